-- lua/tp.lua: the Lua half of the operator's `tp` module (REPL and
-- `taskpipe run`). Called once with the tp table the C side built
-- (src/luatp.c); adds the pretty printer and small helpers to it.
local tp = ...

local type, pairs, tostring, getmetatable = type, pairs, tostring, getmetatable
local format, concat, sort, rep = string.format, table.concat, table.sort, string.rep
local math_type = math.type

local WIDTH = 72 -- a table whose text fits this stays on one line

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[w] = true
end

-- The mark of a tp value ("tp.null", "tp.list", ...), from __metatable.
local function mark(v)
  local mt = getmetatable(v)
  if type(mt) == "string" then return mt end
end

local function quote(s)
  return (format("%q", s):gsub("\\\n", "\\n"))
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "number" then
    if math_type(v) == "float" and v == math.floor(v) and v > -1e15 and v < 1e15 then
      return format("%.1f", v)
    end
    return tostring(v)
  end
  local m = mark(v)
  if m == "tp.null" then return "tp.null" end
  return tostring(v)
end

-- Keys in a stable order: numbers first (numerically), then strings.
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then
    return k
  end
  return "[" .. scalar(k) .. "]"
end

local function pretty(v, indent, seen)
  if type(v) ~= "table" then return scalar(v) end
  local m = mark(v)
  if m == "tp.number" or m == "tp.binary" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local parts, n = {}, 0
  while v[n + 1] ~= nil do
    n = n + 1
    parts[n] = pretty(v[n], indent .. "  ", seen)
  end
  local keys = {}
  for k in pairs(v) do
    if not (math_type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  sort(keys, key_less)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = key_text(k) .. " = " .. pretty(v[k], indent .. "  ", seen)
  end
  seen[v] = nil
  local prefix = m == "tp.set" and "tp.set" or ""
  if #parts == 0 then return prefix .. "{}" end
  local one = prefix .. "{ " .. concat(parts, ", ") .. " }"
  if #one + #indent <= WIDTH and not one:find("\n", 1, true) then return one end
  local inner = indent .. "  "
  return prefix .. "{\n" .. inner .. concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

--- tp.pretty(v) -> text: nested tables, sorted keys, two-space indentation.
function tp.pretty(v)
  return pretty(v, "", {})
end

--- tp.show(...): print values readably (the REPL prints results with it).
function tp.show(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do out[i] = tp.pretty((select(i, ...))) end
  print(concat(out, "\t"))
end

--- tp.keys(t) -> sorted list of t's keys.
function tp.keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  sort(ks, key_less)
  return ks
end

--- tp.names() -> sorted list of pipeline names from the config table.
function tp.names()
  local out = {}
  for _, p in ipairs(tp.ls()) do
    -- not a gone item's record, nor a limit group's row (no pipeline)
    if p.item and p.kind == "pipeline" then out[#out + 1] = p.pipeline end
  end
  sort(out)
  return out
end

local HELP = [[
tp.ls()                    the rows of `taskpipe ls --json` (item: the item itself)
tp.get(name)               one config item (nil when absent)
tp.put(item)               write a config item (a table with `pipeline`)
tp.delete(name)            delete a config item
tp.plan(names|nil)         what apply would change (nil: all)
tp.apply(names|"all", {force=true})  make pipelines match their items
tp.drift({fix=bool})       drift check (like `taskpipe drift --json`)
tp.depth(name)             {visible, in_flight, delayed, dlq} message counts
tp.status(names|nil)       one row per group (like `taskpipe status --json`)
tp.redrive(name)           move the DLQ's messages back to the queue -> count, how
tp.pause(name[, reason]) / tp.resume(name)  an operator's pause (item untouched) / its end
tp.purge(name[, "dlq"])    delete every waiting message of the queue (or DLQ)
tp.policy(item)            run the policy on an item: spec, or nil, reason
tp.reload_policy()         load the policy again (file edited)
tp.aws(svc, op, params)    one JSON call: tp.aws("sqs", "ListQueues", {}),
                           tp.aws("cloudwatch", "GetMetricData", {...})
                           REST: tp.aws("lambda", "GET /2015-03-31/functions/")
tp.pretty(v) / tp.show(v)  readable text of a value / print it
tp.null, tp.list{...}      DynamoDB NULL, a list that stays a list]]

function tp.help()
  print(HELP)
end

return tp
