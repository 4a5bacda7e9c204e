// Evaluate IAM requests with @cloud-copilot/iam-simulate (pinned in package-lock.json).
// stdin: a JSON array of {identityPolicies, resourcePolicy?, permissionBoundaryPolicies?, request}
// (the library's Simulation, without the organisation policies); stdout: a JSON array, for each,
// {"result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"} or {"error": ...}.
// Driven by e2e/test_iam_simulate.py; installed by scripts/node.sh.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const c of process.stdin) chunks.push(c)
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const out = []
for (const c of cases) {
  const simulation = {
    identityPolicies: c.identityPolicies ?? [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.resourcePolicy,
    permissionBoundaryPolicies: c.permissionBoundaryPolicies,
    request: c.request,
  }
  try {
    const r = await runSimulation(simulation, {})
    out.push(r.resultType === 'error' ? { error: r.errors } : { result: r.overallResult })
  } catch (e) {
    out.push({ error: String(e) })
  }
}
process.stdout.write(JSON.stringify(out))
