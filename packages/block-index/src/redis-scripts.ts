/**
 * Lua scripts of the Redis backend. Each runs atomically inside Redis. KEYS[1] is always a key
 * of the model (`<p>pid`) so Redis Cluster routes the script to the model's hash slot; every
 * other key a script touches carries the same `{model}` hash tag, hence the same slot.
 *
 * Layout (p = `kvi:{<escaped model>}:`, ids are small per-model engine numbers, rk/ek are
 * 16-hex-digit request/engine keys):
 *   p pid       HASH   engine -> id          p pname  HASH id -> engine
 *   p pfree     SET    freed ids (reused)    p pnext  STRING next id
 *   p pver      STRING new value whenever ids change (lookups cache id -> engine); p pvseq
 *   p ck        HASH   engine -> stream checkpoint     p cm HASH engine -> checkpoint meta
 *   p b:<rk>    STRING bitmap: bit 2*id = engine holds rk on GPU, bit 2*id+1 = on CPU
 *   p h:<id>    HASH   ek -> rk .. copies, where copies = GPU copies + 65536 * CPU copies
 *                      (speculative blocks without an engine hash: field "s" .. rk)
 *
 * One field per (engine, block) holds both the engine mapping and the copy counts: within one
 * engine an engine hash and a request key are both functions of the block's content chain, so
 * they correspond one to one. If an engine hash ever arrives with another request key (an
 * orphan chain later resolved), the block moves to the new key.
 */

const PRELUDE = `
local p = ARGV[1]
local engine = ARGV[2]
-- The version is a time stamp plus a counter, not a bare counter: after Redis lost its data a
-- counter would restart and a lookup replica could keep a stale id -> engine table.
local function bumpVersion()
  local t = redis.call("TIME")
  redis.call("SET", p .. "pver", t[1] .. "." .. t[2] .. "-" .. redis.call("INCR", p .. "pvseq"))
end
-- Clears both bits of engine gbit/2 on block rk, deleting the bitmap when nobody holds it.
local function unsetBlock(rk, gbit)
  local bkey = p .. "b:" .. rk
  redis.call("SETBIT", bkey, gbit, 0)
  redis.call("SETBIT", bkey, gbit + 1, 0)
  if redis.call("BITCOUNT", bkey) == 0 then redis.call("DEL", bkey) end
end
local function clearEngine(id)
  local hkey = p .. "h:" .. id
  local gbit = tonumber(id) * 2
  for _, v in ipairs(redis.call("HVALS", hkey)) do unsetBlock(string.sub(v, 1, 16), gbit) end
  redis.call("DEL", hkey)
end
`;

/**
 * ARGV: prefix, engine, checkpoint ("" = none), checkpoint meta, max entries per engine (0 = no
 * limit; a full engine drops NEW blocks, copies of held ones still count), the checkpoint the
 * caller expects to be stored at least ("" = no expectation), then ops:
 *   "A", tier ("g"|"c"), n, hasEngineKeys ("1"|"0"), rk_1..rk_n concatenated, [ek_1..ek_n concatenated]
 *   "E", tier, n, ek_1..ek_n concatenated
 *   "C"
 * Keys are 16 hex digits each; a few long arguments encode much faster than many short ones.
 * Returns {1, dropped} when applied, {0, 0} when skipped by the checkpoint guard (already
 * applied, or the stored checkpoint is below the expected one: the store lost writes).
 */
export const APPLY_LUA = `${PRELUDE}
local ck = ARGV[3]
if ck ~= "" then
  local cur = redis.call("HGET", p .. "ck", engine)
  if cur and tonumber(cur) >= tonumber(ck) then return {0, 0} end
  local after = ARGV[6]
  if after ~= "" and (not cur or tonumber(cur) < tonumber(after)) then return {0, 0} end
  redis.call("HSET", p .. "ck", engine, ck)
  redis.call("HSET", p .. "cm", engine, ARGV[4])
end
local id = redis.call("HGET", p .. "pid", engine)
if not id then
  id = redis.call("SPOP", p .. "pfree")
  if not id then id = tostring(redis.call("INCR", p .. "pnext") - 1) end
  redis.call("HSET", p .. "pid", engine, id)
  redis.call("HSET", p .. "pname", id, engine)
  bumpVersion()
end
local gbit = tonumber(id) * 2
local hkey = p .. "h:" .. id
local cap = tonumber(ARGV[5])
local dropped = 0
local i = 7
while i <= #ARGV do
  local kind = ARGV[i]
  if kind == "A" then
    local cpu = ARGV[i + 1] == "c"
    local n = tonumber(ARGV[i + 2])
    local hasEk = ARGV[i + 3] == "1"
    local inc, bit = 1, gbit
    if cpu then inc, bit = 65536, gbit + 1 end
    local rks = ARGV[i + 4]
    local eks = hasEk and ARGV[i + 5] or nil
    for j = 0, n - 1 do
      local rk = string.sub(rks, j * 16 + 1, j * 16 + 16)
      local field
      if hasEk then field = string.sub(eks, j * 16 + 1, j * 16 + 16) else field = "s" .. rk end
      local v = redis.call("HGET", hkey, field)
      local copies = 0
      if v and string.sub(v, 1, 16) ~= rk then
        -- Same engine hash, another request key: the block moves to the new key.
        unsetBlock(string.sub(v, 1, 16), gbit)
        v = nil
      end
      if v then
        copies = tonumber(string.sub(v, 17))
      elseif cap > 0 and redis.call("HLEN", hkey) >= cap then
        dropped = dropped + 1
        copies = -1
      end
      if copies >= 0 then
        copies = copies + inc
        redis.call("HSET", hkey, field, rk .. copies)
        local c = copies % 65536
        if cpu then c = math.floor(copies / 65536) end
        if c == 1 then redis.call("SETBIT", p .. "b:" .. rk, bit, 1) end
      end
    end
    if hasEk then i = i + 6 else i = i + 5 end
  elseif kind == "E" then
    local cpu = ARGV[i + 1] == "c"
    local n = tonumber(ARGV[i + 2])
    local inc, bit = 1, gbit
    if cpu then inc, bit = 65536, gbit + 1 end
    local eks = ARGV[i + 3]
    for j = 0, n - 1 do
      local ek = string.sub(eks, j * 16 + 1, j * 16 + 16)
      local v = redis.call("HGET", hkey, ek)
      if v then
        local rk = string.sub(v, 1, 16)
        local copies = tonumber(string.sub(v, 17))
        local c = copies % 65536
        if cpu then c = math.floor(copies / 65536) end
        if c > 0 then
          copies = copies - inc
          local bkey = p .. "b:" .. rk
          if c == 1 then redis.call("SETBIT", bkey, bit, 0) end
          if copies == 0 then
            redis.call("HDEL", hkey, ek)
            if redis.call("BITCOUNT", bkey) == 0 then redis.call("DEL", bkey) end
          else
            redis.call("HSET", hkey, ek, rk .. copies)
          end
        end
      end
    end
    i = i + 4
  elseif kind == "C" then
    clearEngine(id)
    i = i + 1
  else
    return redis.error_reply("unknown op " .. tostring(kind))
  end
end
return {1, dropped}
`;

/** ARGV: prefix, engine. Clears the engine, frees its id and checkpoint. */
export const FORGET_LUA = `${PRELUDE}
local id = redis.call("HGET", p .. "pid", engine)
if not id then return 0 end
clearEngine(id)
redis.call("HDEL", p .. "pid", engine)
redis.call("HDEL", p .. "pname", id)
redis.call("HDEL", p .. "ck", engine)
redis.call("HDEL", p .. "cm", engine)
redis.call("SADD", p .. "pfree", id)
bumpVersion()
return 1
`;

/**
 * ARGV: prefix, engine, ek_1..ek_n. Returns the fields of the engine hashes (false where
 * unknown); the request key is their first 16 characters.
 */
export const REQUEST_KEYS_LUA = `
local p = ARGV[1]
local id = redis.call("HGET", p .. "pid", ARGV[2])
if not id then return {} end
local fields = {}
for j = 3, #ARGV do fields[#fields + 1] = ARGV[j] end
if #fields == 0 then return {} end
return redis.call("HMGET", p .. "h:" .. id, unpack(fields))
`;

/** ARGV: prefix. Number of (engine, request key) entries of the model. */
export const SIZE_LUA = `
local p = ARGV[1]
local total = 0
for _, id in ipairs(redis.call("HVALS", p .. "pid")) do
  total = total + redis.call("HLEN", p .. "h:" .. id)
end
return total
`;
