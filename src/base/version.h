/* version.h: taskpipe's version string. */
#ifndef TP_VERSION_H
#define TP_VERSION_H
#define TASKPIPE_VERSION "0.1.0"
#endif
