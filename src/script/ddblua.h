/* ddblua.h: DynamoDB AttributeValues <-> Lua values, faithfully both ways.
 *
 *   S    -> string                   NULL -> tp.null (a unique sentinel)
 *   N    -> integer when the text is an integer within int64; otherwise a
 *           float when Lua's tostring of it (%.14g) has the text's value
 *           exactly; otherwise a number object (table with metatable tp.number
 *           holding the original text), so no digit is ever lost
 *   BOOL -> boolean                  M    -> table with string keys
 *   L    -> sequence table (marked with metatable tp.list, so an empty L stays an L)
 *   B    -> binary object (table with metatable tp.binary, field `data` = raw bytes)
 *   SS/NS/BS -> set object (table with metatable tp.set, field `type` = "SS"|"NS"|"BS",
 *           elements in the sequence part)
 * Back to AttributeValues: string -> S; integer/float -> N (shortest exact
 * text); boolean -> BOOL; tp.null -> NULL; marked objects to their type;
 * an unmarked table is an L when it is a non-empty sequence 1..n, else an M
 * (all keys must be strings). Errors name the path (e.g. "item.env.KEY").
 *
 * The Lua bridge lives in script/ (the only layer besides cmd/ that may
 * include Lua's headers); the JSON-side rules are aws/ddbval.h's.
 */
#ifndef TP_DDBLUA_H
#define TP_DDBLUA_H

#include "base/base.h"

struct lua_State;
struct cJSON;

/* Registry key of the tp.null sentinel (a userdata) that ddblua_open stores. */
#define DDBLUA_NULL_KEY "tp.null.value"

/* Push the Lua form of one AttributeValue ({"S":"x"} ...). */
int ddblua_push(struct lua_State *L, const struct cJSON *av, tp_err *e);
/* Push an item (map of name -> AttributeValue) as a Lua table. */
int ddblua_push_item(struct lua_State *L, const struct cJSON *item, tp_err *e);
/* Convert the Lua value at idx to an AttributeValue; path names it in errors. */
int ddblua_to_av(struct lua_State *L, int idx, const char *path, struct cJSON **out, tp_err *e);
/* Install the metatables and tp.null into the registry (once per state). */
void ddblua_open(struct lua_State *L);

/* Plain JSON <-> Lua (for ctx, specs, waves): objects -> tables, arrays ->
 * sequence tables (tp.list-marked), null -> tp.null; a Raw node holding
 * number text (jsonnum.h) -> as an N's text above, so no digit is lost. */
int ddblua_push_json(struct lua_State *L, const struct cJSON *json, tp_err *e);
int ddblua_to_json(struct lua_State *L, int idx, const char *path, struct cJSON **out, tp_err *e);

/* A conversion budget: at most max_nodes values and max_bytes of string,
 * key and number text; past either, TP_ELIMIT "PolicyOutputLimit" naming
 * the path. Bounds the time and memory of converting a hostile result (a
 * table reached many times counts every time it is reached). */
struct ddblua_budget {
	size_t max_nodes, max_bytes;
	size_t nodes, bytes;   /* used so far; start at 0 */
};
int ddblua_to_json_budget(struct lua_State *L, int idx, const char *path, struct ddblua_budget *b,
			  struct cJSON **out, tp_err *e);

#endif
