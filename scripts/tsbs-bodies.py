#!/usr/bin/env python3
# TSBS-like devops cpu lines (10 tags, 10 integer fields, ns timestamps, 10 s interval, 100 hosts),
# deterministic (seed 1): NB bodies of BATCH lines written to body-K.lp in the current directory.
# Usage: tsbs-bodies.py NB BATCH (the load of scripts/spool-cost.sh).
import random, sys
nb, batch = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(1)
regions = ["us-east-1","us-west-1","us-west-2","eu-west-1","eu-central-1","ap-southeast-1","ap-southeast-2","ap-northeast-1","sa-east-1"]
fields = ["usage_user","usage_system","usage_idle","usage_nice","usage_iowait","usage_irq","usage_softirq","usage_steal","usage_guest","usage_guest_nice"]
hosts = []
for h in range(100):
    reg = r.choice(regions)
    hosts.append(f"cpu,hostname=host_{h},region={reg},datacenter={reg}{r.choice('abc')},rack={r.randrange(100)},os=Ubuntu{r.choice(['15.10','16.04','16.10'])},arch={r.choice(['x86','x64'])},team={r.choice(['SF','NYC','LON','CHI'])},service={r.randrange(20)},service_version={r.randrange(2)},service_environment={r.choice(['production','staging','test'])}")
t = 1451606400000000000
for k in range(nb):
    out = []
    for i in range(batch):
        h = hosts[i % 100]
        if i % 100 == 0: t += 10_000_000_000
        out.append(h + " " + ",".join(f"{f}={r.randrange(100)}i" for f in fields) + f" {t}\n")
    open(f"body-{k}.lp", "w").write("".join(out))
