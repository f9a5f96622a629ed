-- Argo CD health of a tend.dev ManagedService (resource.customizations.health.tend.dev_ManagedService).
-- tests/deploy/test_argocd_health.py runs it against status fixtures. In order:
--   no status, or a generation the operator has not observed yet      -> Progressing
--   Ready=True at the current generation, or phase Succeeded            -> Healthy
--   Ready's reason ScaledToZero (stopped after its restart budget)      -> Suspended
--   Stalled=True (cannot converge without a change to the spec), or
--   phase Failed or Degraded                                            -> Degraded
--   anything else (Reconciling=True, Blocked, Pending, Progressing)     -> Progressing
-- with the deciding condition's message.
local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function message_of(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local status = obj.status
local generation = obj.metadata.generation
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for tend to observe the ManagedService"
  return hs
end
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for tend to observe generation " .. generation
  return hs
end

local ready = condition(status, "Ready")
local current = ready ~= nil and (ready.observedGeneration == nil or generation == nil
  or ready.observedGeneration == generation)
if (ready ~= nil and current and ready.status == "True") or status.phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = message_of(ready, status.phase)
  return hs
end
if ready ~= nil and ready.reason == "ScaledToZero" then
  hs.status = "Suspended"
  hs.message = message_of(ready, "Scaled to zero after its restart budget was exhausted")
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message_of(stalled, stalled.reason)
  return hs
end
if status.phase == "Failed" or status.phase == "Degraded" then
  hs.status = "Degraded"
  hs.message = message_of(ready, status.phase)
  return hs
end

local reconciling = condition(status, "Reconciling")
hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = message_of(reconciling, reconciling.reason)
else
  hs.message = message_of(ready, status.phase or "Progressing")
end
return hs
