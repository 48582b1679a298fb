#!/bin/sh
# Two nodes on one machine, without containers: a server, two agents
# (each a "node" with its own data folder and sockets), the orders
# service behind an inbound proxy on node 1, and the billing job calling
# it through an outbound proxy on node 2. Run from the checkout, each
# long-running command in its own terminal (or with & as here); stop
# everything with: kill $(jobs -p). examples/README.md explains each step.
set -eu
kith() { go run ./cmd/kith "$@"; }
W=/tmp/kith-walkthrough
mkdir -p $W

# 1. The control plane; the CLI finds it through its data folder.
kith config check examples/server.yaml
kith server --config examples/server.yaml &
export KITH_DATA=$W/server
kith healthcheck --timeout 30s

# 2. Two nodes: a join token each, then an agent each.
T1=$(kith agent token create -o json | sed -n 's/.*"token": "\(.*\)".*/\1/p')
T2=$(kith agent token create -o json | sed -n 's/.*"token": "\(.*\)".*/\1/p')
kith agent --config examples/agent-node1.yaml --join-token "$T1" --trust-bundle $W/server/bundle.pem &
kith agent --config examples/agent-node2.yaml --join-token "$T2" --trust-bundle $W/server/bundle.pem &
kith healthcheck --agent --health-addr 127.0.0.1:8081 --timeout 30s
kith healthcheck --agent --health-addr 127.0.0.1:8082 --timeout 30s
kith agent list

# 3. The workloads, one on each node (edit the parents: kith agent list).
kith entry create -f examples/entries.yaml
kith client create --entry spiffe://example.org/billing --auth-method jwt_svid --scopes orders.read --audience spiffe://example.org/orders

# 4. The policy, tested offline first, then applied.
kith policy fmt --check examples/policies/orders.yaml
kith policy test -f examples/policies/orders.yaml -c examples/policies/orders.cases.yaml --coverage
kith policy apply -f examples/policies/orders.yaml

# 5. The orders service and its inbound proxy on node 1; billing's
#    outbound proxy on node 2.
python3 -m http.server 9080 --bind 127.0.0.1 &
kith proxy --config examples/proxy-orders.yaml &
kith proxy --config examples/proxy-billing.yaml &

# 6. Billing calls orders: plain HTTP to its proxy, mTLS and a token on
#    the wire, policy at orders' proxy.
kith workload fetch x509 --socket $W/node2/api.sock
curl -s http://127.0.0.1:9001/orders/7
kith audit tail --calls --limit 5
