#!/usr/bin/env bash
# Disaster recovery by re-apply: rebuild environment A's whole topology in an empty environment B.
#
#   A_ENDPOINT, A_TOKEN   the environment to copy (still reachable, or its last export in git)
#   B_ENDPOINT, B_TOKEN   the empty replacement environment
#   SECRETS_TFVARS        a .tfvars file with the secret variables (never in git), e.g. from your vault
#   WORKDIR               where the exported configuration goes (default ./recovered)
#
# Steps: export A as HCL -> terraform apply to B -> plan on B shows no changes -> export of B
# equals export of A -> every pipeline passes `sluice verify`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="${SLUICE_BIN:-$here/../../bin/sluice}"
tf="${TERRAFORM:-$(command -v terraform || command -v tofu)}"
work="${WORKDIR:-$PWD/recovered}"
: "${A_ENDPOINT:?}" "${A_TOKEN:?}" "${B_ENDPOINT:?}" "${B_TOKEN:?}" "${SECRETS_TFVARS:?}"
mkdir -p "$work"

echo "== 1. export environment A as Terraform"
SLUICE_ENDPOINT="$A_ENDPOINT" SLUICE_TOKEN="$A_TOKEN" "$sluice" export --format hcl -o "$work/main.tf"
SLUICE_ENDPOINT="$A_ENDPOINT" SLUICE_TOKEN="$A_TOKEN" "$sluice" export --format json -o "$work/a.json"

echo "== 2. apply it to environment B"
export SLUICE_ENDPOINT="$B_ENDPOINT" SLUICE_TOKEN="$B_TOKEN"
cp "$SECRETS_TFVARS" "$work/secrets.auto.tfvars"
(cd "$work" && "$tf" init -input=false && "$tf" apply -auto-approve -input=false)

echo "== 3. a plan on B shows no changes"
(cd "$work" && "$tf" plan -detailed-exitcode -input=false)

echo "== 4. the export of B equals the export of A"
"$sluice" export --format json -o "$work/b.json"
diff -u "$work/a.json" "$work/b.json"

echo "== 5. the pipelines run: GET /v1/pipelines/<id>/verify passes for every running pipeline (waits up to 5 min for snapshots)"
node - "$work/a.json" <<'JS'
const doc = require(process.argv[2]);
const h = { authorization: `Bearer ${process.env.SLUICE_TOKEN}` };
const get = async (p) => (await fetch(process.env.SLUICE_ENDPOINT + p, { headers: h })).json();
(async () => {
  let failed = false;
  for (const p of doc.pipelines.filter((x) => x.desired_state === 'running')) {
    const id = (await get(`/v1/pipelines?name=${encodeURIComponent(p.name)}`)).items[0].id;
    let v;
    for (const end = Date.now() + 300000; Date.now() < end; await new Promise((r) => setTimeout(r, 5000))) {
      v = await get(`/v1/pipelines/${id}/verify`);
      if ((v.checks ?? []).every((c) => c.pass)) break;
    }
    for (const c of v.checks ?? []) console.log(`${c.pass ? 'PASS' : 'FAIL'} ${p.name} ${c.check}${c.table ? ` ${c.table}` : ''}: ${c.detail}`);
    failed ||= !(v.checks ?? []).every((c) => c.pass);
  }
  process.exit(failed ? 1 : 0);
})();
JS
echo "recovered: B runs A's topology"
