/* fleet_mem.h: heap bytes booked to the controller or the fake AWS
 * (fleet_mem.c replaces malloc in the fleet simulation). */
#ifndef TP_FLEET_MEM_H
#define TP_FLEET_MEM_H

#include <stddef.h>

enum { FLEET_MEM_CONTROLLER = 0, FLEET_MEM_FAKE = 1 };

struct fleet_mem_side {
	size_t live;      /* bytes asked for and not yet freed */
	size_t peak;      /* the most live at once since the last reset */
	long blocks;      /* blocks live */
};

/* Allocations between enter and leave (nested) are the fake's. */
void fleet_mem_enter_fake(void);
void fleet_mem_leave_fake(void);
void fleet_mem_get(int side, struct fleet_mem_side *out);
void fleet_mem_reset_peak(int side);

#endif
