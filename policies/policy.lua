-- policies/policy.lua: taskpipe's default policy.
--
-- It turns one config item (one task group) into the desired pipeline spec,
-- and a consumer-code change into rollout waves. taskpipe compiles this file
-- into its binary; a file given by --policy, $TASKPIPE_POLICY or
-- $LAMBDA_TASK_ROOT/policy.lua replaces it. Try changes with
--   taskpipe policy check --policy my-policy.lua item.json
--
-- Sandbox (see src/script/sandbox.c): base library without dofile/loadfile/
-- collectgarbage, string (no dump), table, math, utf8 and `tp`. Reading or
-- writing an unknown global is an error, so helpers here are locals. The
-- chunk runs again for every call in a fresh environment: nothing persists
-- between calls. `print` and `tp.log` write INFO log lines.
--
-- Item fields (the item is the DynamoDB config item, as plain Lua values).
-- All optional except `pipeline`. A DynamoDB NULL counts as absent. Fields
-- named x_* are ignored (room for operators' notes); any other unknown field
-- is an error, so a typo never passes silently.
--
--   pipeline            the table's key and the pipeline name (required):
--                       1..200 of A-Za-z0-9_- and not ending in -dlq
--   concurrency         the group's limit, integer 1..1000, default 2 (see
--                       "Concurrency" below for why 2 and not 1)
--   timeout             function timeout, seconds 1..900, default 30
--   memory              function memory, MB 128..10240, default 128
--   visibility_timeout  queue visibility timeout, seconds 0..43200, default
--                       6 x timeout (AWS's advice for SQS event sources, which
--                       leaves room for retries of throttled batches); must be
--                       >= timeout (Lambda refuses the mapping otherwise)
--   batch_size          1..10000, default 10
--   batch_window        MaximumBatchingWindowInSeconds 0..300; default 0, or
--                       1 when batch_size > 10 (AWS requires a window of at
--                       least 1 s for batches over 10; an explicit 0 is an error)
--   max_receive_count   receives before a message goes to the DLQ, 1..1000,
--                       default 5 (10 when concurrency is 1, see below)
--   retention           queue MessageRetentionPeriod, seconds 60..1209600,
--                       default 345600 (4 days)
--   dlq_retention       DLQ MessageRetentionPeriod, 60..1209600, default
--                       1209600 (14 days); must be >= retention because a
--                       message's age counts from its first enqueue, so a
--                       shorter DLQ retention drops failed messages early
--   keep_dlq            boolean, default true: deleting the pipeline keeps a
--                       non-empty DLQ
--   drain_timeout       seconds 1..1209600: how long a removed (or expired)
--                       pipeline keeps consuming before its function goes and
--                       a queue still holding tasks is kept; taskpipe's
--                       default (absent from the spec) is 86400 (24 h)
--   expires_at          epoch seconds (taskpipe put turns ISO 8601 into
--                       them): past it the pipeline drains as if the item were
--                       removed (taskpipe acts on it; DynamoDB's TTL deletes
--                       the item later). Read by taskpipe, not by this policy
--   env                 map name -> string/number/boolean: the function's
--                       environment (numbers and booleans become strings).
--                       Names follow Lambda's [A-Za-z][A-Za-z0-9_]+ (so at
--                       least 2 characters, API_Environment.html) and may not
--                       be reserved by Lambda (AWS_REGION, ...). Keys plus
--                       values at most 4096 bytes (Lambda's 4 KB limit)
--   code                S3 key of the consumer code (default
--                       ctx.defaults.code_key)
--   code_bucket         its bucket (default ctx.defaults.code_bucket)
--   runtime             default ctx.defaults.runtime (TASKPIPE_RUNTIME), else
--                       "provided.al2023"; one past Lambda's create block date
--                       (ctx.runtimes, see below) is an error, a deprecated one
--                       is allowed
--   handler             default "bootstrap"
--   architecture        "x86_64" or "arm64", default "x86_64"
--   enabled             boolean, default true; false disables the event source
--                       mapping (messages wait in the queue, nothing deleted)
--   tags                map string -> string merged into the resources' tags;
--                       keys 1..128 chars not starting with "taskpipe:" or
--                       "aws:"; values up to 256 chars
--   role                execution role ARN (default ctx.defaults.role_arn)
--   rate                tasks per second the group may start, a number > 0
--                       and <= 10000 (decimals welcome: 0.5 is one task every
--                       2 s), or a string per period: "100/min", "5000/h",
--                       "20000/d" ("N/s" too), turned into tasks/s (the same
--                       schedule and bound); see "Rates" below. Needs the consumer layer
--                       of the item's architecture (ctx.defaults.consumer_layer,
--                       consumer_layer_arm64)
--   duration            expected seconds per task, a number > 0, default 1,
--                       at most timeout; only with rate (it sizes the
--                       concurrency, batch size and deadline reserve)
--   burst               tasks that may start at once, integer 1..10000,
--                       default 1; only with rate. Any W seconds see at most
--                       rate x W + burst task starts across all copies
--   limit_group         the name of a limit group this pipeline belongs to
--                       (see "Limit groups" below): its tasks start only when
--                       both its own rate and the group's allow
--   code_storage        "reference" or "copy": how Lambda keeps the code
--                       (S3ObjectStorageMode, see "Code storage" below).
--                       Default ctx.defaults.code_storage (TASKPIPE_CODE_STORAGE)
--                       when set, else "reference" when the code comes from the
--                       default bucket and that bucket is versioned
--                       (ctx.defaults.code_bucket_versioned), else "copy"
--
-- Concurrency. For concurrency >= 2 the spec sets the event source mapping's
-- ScalingConfig.MaximumConcurrency: the SQS pollers then never invoke more
-- than that many copies at once, and messages simply wait in the queue. It
-- cannot be 1: AWS accepts 2..1000 ("Configuring maximum concurrency for
-- Amazon SQS event sources", Lambda developer guide). For concurrency 1 the
-- only lever is reserved concurrency 1 on the function. That works but costs:
-- the pollers ignore reserved concurrency and keep invoking, the throttled
-- invocations return their messages to the queue, and each such return counts
-- as a receive, so messages can reach the DLQ without ever having failed. The
-- policy therefore raises max_receive_count's default to 10 there, and refuses
-- when reserving would leave the account fewer than ctx.unreserved_min (100)
-- unreserved executions. That is why the default concurrency is 2.
-- Switching between the two levers (1 <-> N, enable, disable), taskpipe
-- puts the new limit in force before it removes the old one (docs/INTERNALS.md,
-- "Reconcile: the step machine"), so a group never runs unlimited in between.
--
-- Limit groups. A limit group caps the task starts of all its members
-- together (one customer's API key over all of its sites, one downstream
-- service over all tenants). It is a config item of its own kind, keyed
-- "limit#<name>" (a pipeline name cannot hold '#'):
--   { "limit_group": "acme-api", "rate": "600/min", "burst": 5 }
-- limit_group(group, ctx) below checks such an item and gives {rate, burst}
-- (rate in tasks/s as text). A member names the group in its own item; taskpipe
-- hands pipeline() the member's item with limit_group resolved to
-- { name, rate, burst } (a string there means nothing resolved it: an
-- error). For a member:
--   * rate, when absent, is the group's (a member can never go faster);
--   * burst may not exceed the group's (its sub-batches must fit the
--     group's bound too);
--   * env TASKPIPE_LIMIT_GROUP, TASKPIPE_LIMIT_GROUP_RATE and
--     TASKPIPE_LIMIT_GROUP_BURST tell the consumer layer to book every start
--     on the group's schedule (state-table item limit#<name>) as well as on
--     the pipeline's, so any W seconds see at most rate x W + burst starts
--     for the pipeline and for the group as a whole.
--
-- Rates. concurrency bounds the tasks in flight; rate bounds the tasks
-- started per second, held by the taskpipe consumer layer in the function
-- (docs/consumer-layer.md, "Rates" and "The consumer layer"). With rate set:
--   * concurrency, when absent, is max(2, ceil(rate x duration x 1.25)): the
--     copies needed to sustain the rate when each task takes up to 25% more
--     than `duration` seconds and a copy runs its sub-batches one after
--     another (a 1e-9 slack keeps 0.1 x 24 x 1.25 at 3, not 4), never below
--     the mapping's minimum of 2. Over 1000 is an error naming rate. Both
--     given is allowed: concurrency bounds the tasks in flight, rate the
--     throughput.
--   * the deadline reserve (TASKPIPE_DEADLINE_RESERVE_MS) is
--     ceil(burst x duration x 1.25 s) + 1 s: no sub-batch starts later than
--     that before the deadline; a timeout under twice the reserve is an
--     error naming timeout.
--   * rate / batch_size over 250 is an error naming rate: each batch is one
--     booking write on the pipeline's one schedule item, and one DynamoDB
--     item sustains about 250 of them a second (docs/consumer-layer.md).
--   * batch_size, when absent, is min(10, burst x max(1, floor(timeout x
--     rate / (2 x concurrency x burst)))): the batch's sub-batches, one
--     lane period (concurrency x burst / rate s) apart, span at most half
--     the timeout.
--   * func.Layers = { the consumer layer version ARN }: the layer holds a
--     static binary, so one per architecture: ctx.defaults.consumer_layer
--     for x86_64, ctx.defaults.consumer_layer_arm64 for arm64 (none
--     configured for the item's architecture is an error naming rate).
--   * env TASKPIPE_RATE = the rate as text, in its shortest form that reads
--     back as the same number ("2", "0.5", "0.1"; a number object keeps its
--     digits as written), and TASKPIPE_CONCURRENCY = the copies sharing it
--     (concurrency: MaximumConcurrency, or 1 under reserved concurrency 1),
--     TASKPIPE_BURST = burst, TASKPIPE_DEADLINE_RESERVE_MS = the reserve,
--     and TASKPIPE_RATE_TABLE = ctx.defaults.state_table (the state table:
--     every copy books its batches on one schedule there, so the rate holds
--     across copies to within burst; docs/consumer-layer.md).
--     The item's env may not use TASKPIPE_* names then.
--   * a managed runtime (not provided.*) gets env AWS_LAMBDA_EXEC_WRAPPER =
--     /opt/taskpipe-wrapper (so the item's env may not set it); provided.*
--     runs the layer's /opt/bootstrap, which starts $LAMBDA_TASK_ROOT/<handler>
--     behind the proxy: handler defaults to "handler" there, and "bootstrap"
--     is refused because /var/task/bootstrap would run instead of
--     /opt/bootstrap and bypass the rate.
--   * metrics = "detailed" (default "fleet") gives the consumer layer env
--     TASKPIPE_METRICS = detailed: its metrics then also carry the
--     FunctionName dimension, billed per group (docs/operations.md "Metrics"); it needs
--     rate (without the layer there is nothing to publish them; AWS/SQS and
--     AWS/Lambda have every queue and function anyway).
-- Without rate none of this is set, so removing rate removes the layer and
-- the variables on the next apply.
--
-- Code storage. With "copy" Lambda copies the zip into Lambda-managed
-- storage (300 GB a region, every function's copy counts). With "reference"
-- Lambda runs the code straight from the versioned S3 object and nothing
-- counts against that quota ("Self-managed S3 code storage", Lambda
-- developer guide). REFERENCE needs S3 versioning and an object version;
-- taskpipe sends the object's current version, and repeats
-- S3ObjectStorageMode=REFERENCE on every code update (an update without it
-- puts the function back to COPY). The spec carries it as
-- func.Code.S3ObjectStorageMode = "REFERENCE" (absent: COPY).
--
-- ctx: { instance, region, prefix, account_concurrency, unreserved_min,
--        defaults = { code_bucket, code_key, role_arn, runtime, code_storage,
--                     code_bucket_versioned, consumer_layer,
--                     consumer_layer_arm64, state_table }, runtimes, now }
--
-- Errors are returned as nil, "<field>: <what is wrong> (<allowed>)".

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local floor, tointeger = math.floor, math.tointeger
local format, find, sub = string.format, string.find, string.sub

-- Tasks may take up to 25% longer than `duration` (rate sizing, below).
local DURATION_MARGIN = 1.25
-- Batches per second one schedule item takes (docs/consumer-layer.md "The consumer layer":
-- DynamoDB's 1,000 WCU/s per partition, 2 WCU per booking of an item of up
-- to 100 lanes, half of it left for lost races and retries).
local SCHEDULE_MAX_BOOKINGS = 250
-- Sub-batches per second a limit group's one schedule item takes
-- (docs/consumer-layer.md "Limit groups in the consumer": every sub-batch of
-- every member books on it, measured at 2.3-2.8 writes each with members
-- racing; half of the item's 1,000 WCU/s kept for races).
local GROUP_MAX_BOOKINGS = 200

local KNOWN = {
  pipeline = true, concurrency = true, timeout = true, memory = true,
  visibility_timeout = true, batch_size = true, batch_window = true,
  max_receive_count = true, retention = true, dlq_retention = true,
  keep_dlq = true, env = true, code = true, code_bucket = true, runtime = true,
  handler = true, architecture = true, enabled = true, tags = true, role = true,
  rate = true, duration = true, burst = true,
  code_storage = true, metrics = true,
  drain_timeout = true, expires_at = true, limit_group = true,
}

-- A limit group's item (see "Limit groups" above).
local GROUP_KNOWN = { pipeline = true, limit_group = true, rate = true, burst = true }

-- Lambda's runtime lifecycle comes in ctx.runtimes (one table, in
-- src/core/runtimes.c, with its sources): runtime -> { deprecated,
-- block_create, block_update, phase }, phase as of today ("supported",
-- "deprecated", "create_blocked", "update_blocked"). A runtime past its
-- create block is refused; a deprecated one is allowed (drift flags it).

-- Reserved by Lambda: a function cannot set these.
local RESERVED_ENV = {
  _HANDLER = true, _X_AMZN_TRACE_ID = true, AWS_DEFAULT_REGION = true,
  AWS_REGION = true, AWS_EXECUTION_ENV = true, AWS_LAMBDA_FUNCTION_NAME = true,
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE = true, AWS_LAMBDA_FUNCTION_VERSION = true,
  AWS_LAMBDA_INITIALIZATION_TYPE = true, AWS_LAMBDA_LOG_GROUP_NAME = true,
  AWS_LAMBDA_LOG_STREAM_NAME = true, AWS_ACCESS_KEY = true, AWS_ACCESS_KEY_ID = true,
  AWS_SECRET_ACCESS_KEY = true, AWS_SESSION_TOKEN = true, AWS_LAMBDA_RUNTIME_API = true,
  LAMBDA_TASK_ROOT = true, LAMBDA_RUNTIME_DIR = true, TZ = true,
}

-- A failed check unwinds to pipeline() with this marker and the message.
local Invalid = {}
local function fail(fmt, ...)
  error({ Invalid, format(fmt, ...) }, 0)
end

-- What a value is, for messages: "string", "number", "list", "null", ...
local function kind(v)
  local t = tp.type(v)
  if t == "table" then return "map" end
  return t
end

local function get(item, name)
  local v = item[name]
  if v == tp.null then return nil end
  return v
end

local function integer(item, name, default, lo, hi)
  local v = get(item, name)
  if v == nil then return default end
  local t = tp.type(v)
  if t == "bignumber" then
    fail("%s: %s is out of range (%d..%d)", name, tostring(v), lo, hi)
  elseif t ~= "number" then
    fail("%s: expected an integer, found %s (%d..%d)", name, kind(v), lo, hi)
  end
  local i = tointeger(v)
  if not i then
    fail("%s: %s is not an integer (%d..%d)", name, tostring(v), lo, hi)
  end
  if i < lo or i > hi then
    fail("%s: %d is out of range (%d..%d)", name, i, lo, hi)
  end
  return i
end

-- A positive number up to hi, and its text: the shortest that reads back as
-- the same double, so up to 15 significant digits it is the text as written
-- ("0.5", "2"), also when the number arrived as a number object (tp.number,
-- e.g. "0.10000000000000001" from a JSON reader that printed %.17g).
local function positive(item, name, default, hi, what)
  local v = get(item, name)
  if v == nil then return default, nil end
  local t, n = tp.type(v), nil
  if t == "bignumber" then
    n = tonumber(tostring(v))
  elseif t == "number" then
    n = v
  else
    fail("%s: expected a number, found %s (%s)", name, kind(v), what)
  end
  local txt = tostring(v)
  if n and n == n and math.abs(n) ~= math.huge then
    if tointeger(n) then
      txt = format("%d", tointeger(n))
    else
      for digits = 15, 17 do
        txt = format("%." .. digits .. "g", n)
        if tonumber(txt) == n then break end
      end
    end
  end
  if not n or n ~= n or n <= 0 or n > hi then
    fail("%s: %s is out of range (%s)", name, t == "bignumber" and tostring(v) or txt, what)
  end
  return n, txt
end

-- The shortest text that reads back as the same double.
local function shortest(n)
  if tointeger(n) then return format("%d", tointeger(n)) end
  local txt
  for digits = 15, 17 do
    txt = format("%." .. digits .. "g", n)
    if tonumber(txt) == n then break end
  end
  return txt
end

-- rate: a number of tasks per second, or a string "N/s", "N/min", "N/h",
-- "N/d" (N a plain decimal number). Returns tasks/s and its text.
local PERIODS = { s = 1, sec = 1, min = 60, h = 3600, d = 86400 }
local RATE_WHAT = "tasks per second, over 0 and at most 10000; or \"N/s\", \"N/min\", \"N/h\", \"N/d\""
local function rate_field(item)
  local v = get(item, "rate")
  if type(v) ~= "string" then
    return positive(item, "rate", nil, 10000, RATE_WHAT)
  end
  local num, unit = v:match("^%s*(%d+%.?%d*)%s*/%s*(%a+)%s*$")
  if not num then num, unit = v:match("^%s*(%.%d+)%s*/%s*(%a+)%s*$") end
  local per = unit and PERIODS[unit]
  if not per then
    fail("rate: '%s' is not a rate (%s)", v, RATE_WHAT)
  end
  local n = tonumber(num) / per
  if n <= 0 or n > 10000 then
    fail("rate: '%s' is out of range (%s)", v, RATE_WHAT)
  end
  return n, shortest(n)
end

local function boolean(item, name, default)
  local v = get(item, name)
  if v == nil then return default end
  if type(v) ~= "boolean" then
    fail("%s: expected a boolean, found %s (true or false)", name, kind(v))
  end
  return v
end

local function text(item, name, default)
  local v = get(item, name)
  if v == nil then return default end
  if type(v) ~= "string" then
    fail("%s: expected a string, found %s", name, kind(v))
  end
  if v == "" then fail("%s: empty string", name) end
  return v
end

-- A map (table with string keys); an empty list is not one.
local function map(item, name)
  local v = get(item, name)
  if v == nil then return {} end
  if kind(v) ~= "map" then
    fail("%s: expected a map, found %s", name, kind(v))
  end
  for k in pairs(v) do
    if type(k) ~= "string" then fail("%s: key %s is not a string", name, tostring(k)) end
  end
  return v
end

-- Keys in order, so messages and results do not depend on hash order.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function check_name(item)
  local name = item.pipeline
  if name == nil or name == tp.null then fail("pipeline: missing") end
  if type(name) ~= "string" then
    fail("pipeline: expected a string, found %s", kind(name))
  end
  if #name < 1 or #name > 200 then
    fail("pipeline: %d characters (1..200)", #name)
  end
  if find(name, "[^A-Za-z0-9_-]") then
    fail("pipeline: '%s' has characters outside A-Za-z0-9_- (AWS queue and function names)", name)
  end
  if sub(name, -4) == "-dlq" then
    fail("pipeline: '%s' ends in -dlq, which names another pipeline's dead-letter queue", name)
  end
  return name
end

-- A member's group, as taskpipe resolved it: nil or { name, rate, burst }.
local function member_group(item)
  local g = get(item, "limit_group")
  if g == nil then return nil end
  if type(g) == "string" then
    fail("limit_group: '%s' was not resolved (taskpipe gives the policy the group's settings from its item limit#%s; `policy check` needs the group's item in the same input)", g, g)
  end
  if type(g) ~= "table" or type(g.name) ~= "string" or type(g.rate) ~= "number" or not tointeger(g.burst) then
    fail("limit_group: expected the name of a limit group, found %s", kind(g))
  end
  return { name = g.name, rate = g.rate, burst = tointeger(g.burst) }
end

local function environment(item)
  local env = map(item, "env")
  local vars = {}
  for _, k in ipairs(sorted_keys(env)) do
    local v = env[k]
    if not find(k, "^[A-Za-z][A-Za-z0-9_]+$") then
      fail("env: '%s' is not a valid variable name ([A-Za-z][A-Za-z0-9_]+, at least 2 characters)", k)
    end
    if RESERVED_ENV[k] then
      fail("env: %s is reserved by Lambda and cannot be set", k)
    end
    local t = tp.type(v)
    if t == "number" then
      v = tointeger(v) and format("%d", v) or tostring(v)
    elseif t == "bignumber" then
      v = tostring(v)
    elseif t == "boolean" then
      v = tostring(v)
    elseif t ~= "string" then
      fail("env: %s is a %s (string, number or boolean)", k, kind(v))
    end
    vars[k] = v
  end
  return vars
end

-- After taskpipe's own variables are in: Lambda's limit counts them too.
local function check_env_size(vars)
  local size = 0
  for k, v in pairs(vars) do size = size + #k + #v end
  if size > 4096 then
    fail("env: %d bytes, over Lambda's 4096-byte limit for all variables", size)
  end
end

local function user_tags(item)
  local tags = map(item, "tags")
  local out = {}
  for _, k in ipairs(sorted_keys(tags)) do
    local v = tags[k]
    local lk = string.lower(k)
    if sub(lk, 1, 9) == "taskpipe:" or sub(lk, 1, 4) == "aws:" then
      fail("tags: key '%s' uses a reserved prefix (taskpipe: and aws: are not allowed)", k)
    end
    if #k < 1 or #k > 128 then
      fail("tags: key '%s' is %d characters (1..128)", k, #k)
    end
    if type(v) ~= "string" then
      fail("tags: %s is a %s (string)", k, kind(v))
    end
    if #v > 256 then
      fail("tags: value of %s is %d characters (0..256)", k, #v)
    end
    out[k] = v
  end
  return out
end

local function build(item, ctx)
  if type(ctx) ~= "table" then ctx = {} end
  local defaults = ctx.defaults
  if type(defaults) ~= "table" then defaults = {} end
  local name = check_name(item)
  local unknown
  for k in pairs(item) do
    if not KNOWN[k] and sub(k, 1, 2) ~= "x_" and (unknown == nil or k < unknown) then
      unknown = k
    end
  end
  if unknown then
    fail("%s: unknown field (known: %s; x_* fields are ignored)", unknown,
         table.concat(sorted_keys(KNOWN), ", "))
  end

  local timeout = integer(item, "timeout", 30, 1, 900)
  local group = member_group(item)
  local rate, rate_text = rate_field(item)
  if group and not rate then
    rate, rate_text = group.rate, shortest(group.rate)  -- a member never goes faster than its group
  end
  local duration, duration_text = positive(item, "duration", 1, math.huge,
                                           "seconds per task, over 0 and at most timeout")
  if duration_text and not rate then
    fail("duration: set without rate (it only sizes the concurrency a rate needs)")
  end
  if duration > timeout then
    fail("duration: %s is over timeout %d (a task cannot run longer than its function)", duration_text, timeout)
  end
  local burst = integer(item, "burst", 1, 1, 10000)
  if get(item, "burst") ~= nil and not rate then
    fail("burst: set without rate (it is how many of the rate's tasks may start at once)")
  end
  if group and burst > group.burst then
    fail("burst: %d is above limit group %s's burst %d (a member's sub-batch must fit the group's bound too)",
         burst, group.name, group.burst)
  end
  if group and group.rate / burst > GROUP_MAX_BOOKINGS then
    -- every sub-batch books on the group's one schedule item
    fail("burst: %d with limit group %s's rate %s tasks/s is up to %.0f bookings/s on the group's one schedule item; one DynamoDB item sustains about %d (raise burst, up to the group's %d)",
         burst, group.name, shortest(group.rate), group.rate / burst, GROUP_MAX_BOOKINGS, group.burst)
  end
  local concurrency
  if rate and get(item, "concurrency") == nil then
    -- a batch's sub-batches run lanes x burst / rate s apart (docs/consumer-layer.md
    -- "The consumer layer"): time for burst tasks one after another, +25% for
    -- tasks that take longer than duration
    local need = math.ceil(rate * duration * DURATION_MARGIN - 1e-9)
    if need > 1000 then
      fail("rate: %s tasks/s x duration %s s x %.2f needs concurrency %.0f, over 1000 (lower the rate or the duration)",
           rate_text, duration_text or "1", DURATION_MARGIN, need)
    end
    concurrency = need < 2 and 2 or tointeger(need)
  else
    concurrency = integer(item, "concurrency", 2, 1, 1000)
  end
  local reserve_ms
  if rate then
    -- the time a sub-batch needs before the deadline: burst tasks one after
    -- another, +25%, and a second for the answer
    reserve_ms = math.ceil(burst * duration * DURATION_MARGIN * 1000 - 1e-9) + 1000
    if 2 * reserve_ms > timeout * 1000 then
      fail("timeout: %d s is too short for burst %d x duration %s s (a sub-batch needs %d ms before the deadline; timeout must be at least twice that)",
           timeout, burst, duration_text or "1", reserve_ms)
    end
  end
  local memory = integer(item, "memory", 128, 128, 10240)
  local default_vis = 6 * timeout
  if default_vis > 43200 then default_vis = 43200 end
  local visibility = integer(item, "visibility_timeout", default_vis, 0, 43200)
  if visibility < timeout then
    fail("visibility_timeout: %d is below timeout %d (AWS requires visibility timeout >= function timeout)",
         visibility, timeout)
  end
  local default_batch = 10
  if rate then
    -- the batch's paced span (its sub-batches, one lane period apart) at
    -- most half the timeout: the rest is the reserve for the last one
    local lanes = concurrency
    local subs = math.floor(timeout * rate / (2 * lanes * burst) + 1e-9)
    default_batch = math.min(10, math.max(1, subs) * burst)
  end
  local batch_size = integer(item, "batch_size", default_batch, 1, 10000)
  if rate and rate / batch_size > SCHEDULE_MAX_BOOKINGS then
    -- the shared schedule is one DynamoDB item: one booking write per batch
    fail("rate: %s tasks/s in batches of %d is %.0f bookings/s on the pipeline's one schedule item; one DynamoDB item sustains about %d (1,000 write units/s per partition, 2 per booking, half kept for lost races) (raise batch_size or lower the rate)",
         rate_text, batch_size, rate / batch_size, SCHEDULE_MAX_BOOKINGS)
  end
  local batch_window = integer(item, "batch_window", batch_size > 10 and 1 or 0, 0, 300)
  if batch_size > 10 and batch_window < 1 then
    fail("batch_window: %d with batch_size %d (AWS requires a batching window of at least 1 second when batch_size > 10)",
         batch_window, batch_size)
  end
  local max_receive = integer(item, "max_receive_count", concurrency == 1 and 10 or 5, 1, 1000)
  local retention = integer(item, "retention", 345600, 60, 1209600)
  local dlq_retention = integer(item, "dlq_retention", 1209600, 60, 1209600)
  if dlq_retention < retention then
    fail("dlq_retention: %d is below retention %d (a message's age counts from its first enqueue)",
         dlq_retention, retention)
  end
  local keep_dlq = boolean(item, "keep_dlq", true)
  -- absent unless the item sets it: existing specs (and their hashes) stay
  local drain_timeout = integer(item, "drain_timeout", nil, 1, 1209600)
  integer(item, "expires_at", nil, 0, 99999999999)  -- checked here, acted on by taskpipe
  local enabled = boolean(item, "enabled", true)
  local runtime = text(item, "runtime", defaults.runtime or "provided.al2023")
  local life = type(ctx.runtimes) == "table" and ctx.runtimes[runtime] or nil
  if type(life) == "table" and (life.phase == "create_blocked" or life.phase == "update_blocked") then
    fail("runtime: '%s' is past Lambda's block date (deprecated %s, creates blocked %s, updates blocked %s; use provided.al2023)",
         runtime, tostring(life.deprecated), tostring(life.block_create or "?"),
         tostring(life.block_update or "?"))
  end
  local os_only = sub(runtime, 1, 8) == "provided"
  local handler = text(item, "handler", (rate and os_only) and "handler" or "bootstrap")
  local arch = text(item, "architecture", "x86_64")
  if arch ~= "x86_64" and arch ~= "arm64" then
    fail("architecture: '%s' is not supported (x86_64 or arm64)", arch)
  end
  local code_key = text(item, "code", defaults.code_key)
  if code_key == nil or code_key == tp.null or code_key == "" then
    fail("code: missing (no item code and no default code key in ctx.defaults.code_key)")
  end
  local code_bucket = text(item, "code_bucket", defaults.code_bucket)
  if code_bucket == nil or code_bucket == tp.null or code_bucket == "" then
    fail("code_bucket: missing (no item code_bucket and no default in ctx.defaults.code_bucket)")
  end
  local role = text(item, "role", defaults.role_arn)
  if role == tp.null or role == "" then role = nil end
  local versioned = code_bucket == defaults.code_bucket and defaults.code_bucket_versioned == true
  local storage = text(item, "code_storage",
                       defaults.code_storage or (versioned and "reference" or "copy"))
  if storage ~= "reference" and storage ~= "copy" then
    fail("code_storage: '%s' is not supported (reference or copy)", storage)
  end
  local vars = environment(item)
  local metrics = text(item, "metrics", "fleet")
  if metrics ~= "fleet" and metrics ~= "detailed" then
    fail("metrics: '%s' is not supported (fleet or detailed)", metrics)
  end
  if metrics == "detailed" and not rate then
    fail("metrics: 'detailed' needs rate (the consumer layer publishes the per-group metrics; without it AWS/SQS and AWS/Lambda already have them per queue and function)")
  end
  local layers
  if rate then
    local layer, setting = defaults.consumer_layer, "TASKPIPE_CONSUMER_LAYER or --consumer-layer"
    if arch == "arm64" then
      layer, setting = defaults.consumer_layer_arm64, "TASKPIPE_CONSUMER_LAYER_ARM64 or --consumer-layer-arm64"
    end
    if type(layer) ~= "string" or layer == "" then
      fail("rate: no %s consumer layer configured (set %s to the taskpipe-consumer layer version ARN for %s)",
           arch, setting, arch)
    end
    if not find(layer, "^arn:[%w-]+:lambda:[%w-]+:%d+:layer:[%w_-]+:%d+$") then
      fail("rate: consumer layer '%s' is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)", layer)
    end
    for _, k in ipairs(sorted_keys(vars)) do
      if sub(k, 1, 9) == "TASKPIPE_" then
        fail("env: %s: TASKPIPE_* names are taskpipe's own when rate is set", k)
      end
    end
    if os_only and handler == "bootstrap" then
      fail("handler: 'bootstrap' cannot be used with rate on %s: /var/task/bootstrap would run instead of the consumer layer's /opt/bootstrap and bypass the rate (name the executable otherwise; default 'handler')",
           runtime)
    end
    if not os_only then
      if vars.AWS_LAMBDA_EXEC_WRAPPER then
        fail("env: AWS_LAMBDA_EXEC_WRAPPER is taskpipe's own when rate is set on a managed runtime (it runs /opt/taskpipe-wrapper)")
      end
      vars.AWS_LAMBDA_EXEC_WRAPPER = "/opt/taskpipe-wrapper"
    end
    if metrics == "detailed" then vars.TASKPIPE_METRICS = "detailed" end
    vars.TASKPIPE_RATE = rate_text
    vars.TASKPIPE_CONCURRENCY = format("%d", concurrency)
    vars.TASKPIPE_BURST = format("%d", burst)
    vars.TASKPIPE_DEADLINE_RESERVE_MS = format("%d", tointeger(reserve_ms))
    if type(defaults.state_table) == "string" and defaults.state_table ~= "" then
      vars.TASKPIPE_RATE_TABLE = defaults.state_table
    elseif group then
      fail("limit_group: no state table (ctx.defaults.state_table) to hold group %s's schedule", group.name)
    end
    if group then
      vars.TASKPIPE_LIMIT_GROUP = group.name
      vars.TASKPIPE_LIMIT_GROUP_RATE = shortest(group.rate)
      vars.TASKPIPE_LIMIT_GROUP_BURST = format("%d", group.burst)
    end
    layers = tp.list()
    layers[1] = layer
  end
  check_env_size(vars)
  local tags = user_tags(item)

  local func = {
    Runtime = runtime,
    Handler = handler,
    MemorySize = memory,
    Timeout = timeout,
    Architectures = { arch },
    Environment = { Variables = vars },
    Code = { S3Bucket = code_bucket, S3Key = code_key,
             S3ObjectStorageMode = storage == "reference" and "REFERENCE" or nil },
    Role = role,
    Layers = layers,
  }
  local mapping = {
    BatchSize = batch_size,
    MaximumBatchingWindowInSeconds = batch_window,
    Enabled = enabled,
    FunctionResponseTypes = { "ReportBatchItemFailures" },
  }
  if concurrency >= 2 then
    mapping.ScalingConfig = { MaximumConcurrency = concurrency }
  else
    local account = tointeger(ctx.account_concurrency) or 1000
    local unreserved_min = tointeger(ctx.unreserved_min) or 100
    if concurrency > account - unreserved_min then
      fail("concurrency: reserving %d would leave fewer than %d unreserved executions (account limit %d)",
           concurrency, unreserved_min, account)
    end
    func.ReservedConcurrentExecutions = concurrency
  end

  return {
    name = name,
    queue = {
      VisibilityTimeout = visibility,
      MessageRetentionPeriod = retention,
      ReceiveMessageWaitTimeSeconds = 20,
      maxReceiveCount = max_receive,
    },
    dlq = { MessageRetentionPeriod = dlq_retention, keep_if_not_empty = keep_dlq },
    func = func,
    mapping = mapping,
    tags = tags,
    drain_timeout = drain_timeout,
  }
end

-- A failed check (fail) is the answer nil, reason; anything else is a bug in
-- this file: keep its chunk:line message.
local function checked(fn, item, ctx)
  local ok, res = pcall(fn, item, ctx)
  if ok then return res end
  if type(res) == "table" and res[1] == Invalid then
    return nil, res[2]
  end
  error(res, 0)
end

local function pipeline(item, ctx)
  return checked(build, item, ctx)
end

-- A limit group's item -> { rate = tasks/s as text, burst = n }.
local function build_group(item)
  local name = get(item, "limit_group")
  if type(name) ~= "string" then
    fail("limit_group: expected the group's name (a string), found %s", kind(name))
  end
  if #name < 1 or #name > 200 or find(name, "[^A-Za-z0-9_-]") then
    fail("limit_group: '%s' must be 1..200 of A-Za-z0-9_-", name)
  end
  local unknown
  for k in pairs(item) do
    if not GROUP_KNOWN[k] and sub(k, 1, 2) ~= "x_" and (unknown == nil or k < unknown) then
      unknown = k
    end
  end
  if unknown then
    fail("%s: not a field of a limit group (known: %s; x_* fields are ignored)", unknown,
         table.concat(sorted_keys(GROUP_KNOWN), ", "))
  end
  local rate, rate_text = rate_field(item)
  if not rate then
    fail("rate: missing (a limit group's rate: tasks per second, or \"N/min\", \"N/h\", ...)")
  end
  local burst = integer(item, "burst", 1, 1, 10000)
  if rate / burst > GROUP_MAX_BOOKINGS then
    fail("rate: %s tasks/s with burst %d is up to %.0f bookings/s on the group's one schedule item; one DynamoDB item sustains about %d (raise burst)",
         rate_text, burst, rate / burst, GROUP_MAX_BOOKINGS)
  end
  return { rate = rate_text, burst = burst }
end

local function limit_group(item, ctx)
  return checked(build_group, item, ctx)
end

-- Rollout of new consumer code: change = { bucket, key, version },
-- targets = list of { pipeline = name, ["function"] = name }.
-- Waves, in pipeline-name order:
--   1. a canary: the first target, then a pause to watch it
--      (ctx.rollout.canary_pause_s, 300 s by default: see rollout_health);
--   2. 10% of the rest (at least 1), no pause;
--   3. everything else.
-- Every wave halts the rollout on a failure. Fewer targets give fewer waves,
-- never an empty one.
local function rollout(change, targets, ctx)
  local names = {}
  for _, t in ipairs(targets) do names[#names + 1] = t.pipeline end
  table.sort(names)
  local watch = tointeger((ctx.rollout or {}).canary_pause_s) or 300
  local waves = tp.list()
  local function wave(from, to, pause)
    if from > to then return end
    local w = tp.list()
    for i = from, to do w[#w + 1] = names[i] end
    waves[#waves + 1] = { targets = w, pause_seconds = pause, halt_on_failure = true }
  end
  local n = #names
  if n == 0 then return waves end
  local rest = n - 1
  local second = floor(rest / 10)
  if second < 1 then second = 1 end
  wave(1, 1, watch)
  wave(2, math.min(n, 1 + second), 0)
  wave(2 + second, n, 0)
  if #waves > 0 then waves[#waves].pause_seconds = 0 end -- nothing left to watch for
  return waves
end

-- Health gate. After a wave's updates all succeeded and its pause ended,
-- taskpipe calls rollout_health(wave, results, ctx): wave has `index` (0
-- for the first), `targets` and, when the wave had a pause, `window`
-- ({from, to, seconds, period}, epoch seconds; `error` when CloudWatch
-- could not be read); results lists {pipeline, function, status,
-- code_sha256, metrics} for the wave's functions, metrics = {invocations,
-- errors, throttles, dlq_growth, dlq} summed over the window (Lambda's own
-- AWS/Lambda metrics and the DLQ's ApproximateNumberOfMessagesVisible).
-- Return true[, "note"] to go on, "wait" to be asked again a metric period
-- later with a longer window, or nil, "reason" to fail the wave: the
-- rollout halts and the functions it updated go back to their old code.
local ERROR_RATE_MAX = 0.05   -- Errors / Invocations over the window
local DLQ_GROWTH_MAX = 0      -- messages a watched wave's DLQs may gain
local function rollout_health(wave, results, ctx)
  local win = wave.window
  if not win then return true end -- not watched (no pause): its updates succeeded
  local inv, err, thr, dlq, grew = 0, 0, 0, 0, nil
  for _, r in ipairs(results) do
    local m = r.metrics
    if m then
      inv, err, thr = inv + m.invocations, err + m.errors, thr + m.throttles
      dlq = dlq + m.dlq_growth
      if m.dlq_growth > 0 and not grew then grew = r["function"] end
    end
  end
  if err > 0 and inv > 0 and err / inv > ERROR_RATE_MAX then
    return nil, format("error rate %.1f%% (%d errors in %d invocations, %d throttles) over %.1f%% in %d s",
                       100 * err / inv, err, inv, thr, 100 * ERROR_RATE_MAX, win.seconds)
  end
  if dlq > DLQ_GROWTH_MAX then
    return nil, format("dead-letter queues gained %d messages in %d s (first: %s's)", dlq, win.seconds, grew)
  end
  if inv == 0 then
    -- No traffic, no evidence: keep watching up to the maximum, then go on.
    local max = tointeger((ctx.rollout or {}).health_wait_max_s) or 900
    if win.seconds < max then return "wait", "no invocations yet" end
    return true, format("no invocations in %d s%s: went on without evidence", win.seconds,
                        win.error and (" (" .. win.error .. ")") or "")
  end
  return true
end

return { pipeline = pipeline, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }
