"""The Lua scripts that make each compound RedisStore operation atomic.

Redis runs a script alone (no other command interleaves) and freezes key expiry
while it runs. Durations cross the wire as milliseconds; the rate bucket reads
the server's ``TIME``, so processes on machines with skewed clocks share one
budget. Needs Redis >= 5 (scripts that call ``TIME`` before writing replicate
their effects, the default since 5.0).
"""

from __future__ import annotations

__all__ = [
    "CLAIM_NOTIFICATION",
    "COMPARE_AND_DELETE",
    "PAUSE_UNTIL",
    "READ_WITH_TTL",
    "TAKE_FROM_BUCKET",
]

# KEYS[1]: key; ARGV[1]: expected value. Delete only if the value is still
# ARGV[1]: a stale token, another owner's lock, a "done" mark are left alone.
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1]: e.g. the token key. The value and its remaining life in one read, so
# the reader computes the expiry on its own clock (no cross-machine skew).
READ_WITH_TTL = """
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
"""

# KEYS[1]: pause key; ARGV[1]: pause length in ms (> 0). The key expires when
# the pause ends, so its remaining life *is* the pause: keep the longer one.
PAUSE_UNTIL = """
local wanted = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < wanted then
    redis.call('SET', KEYS[1], '1', 'PX', wanted)
    return 1
end
return 0
"""

# KEYS[1]: bucket hash {tokens, at}; ARGV[1]: rate per second; ARGV[2]: burst.
# The arithmetic of `_memory.refill`. Returns the wait as a string (Lua numbers
# become integers in a Redis reply): "0" when a token was taken.
TAKE_FROM_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then
    tokens, at = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 - 1e-6 then
    tokens = math.max(0, tokens - 1)
else
    wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
-- Once full again it is the same as no bucket; a week at most (PEXPIRE has a range).
local refill_ms = math.ceil((burst - tokens) / rate * 1000)
redis.call('PEXPIRE', KEYS[1], math.min(refill_ms, 604800000) + 1000)
return string.format('%.17g', wait)
"""

# KEYS[1]: mark key; ARGV[1]: pending life in ms; ARGV[2]: this claim's value
# ("pending:" and a random id). Claim, or say who has it.
CLAIM_NOTIFICATION = """
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then
    return 'claimed'
end
return redis.call('GET', KEYS[1])
"""
