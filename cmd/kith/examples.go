package main

import (
	"fmt"
	"io"
	"strings"
)

// printExamples writes the Examples section of the help of the command
// name ("entry create", "" for kith itself), if it has examples.
func printExamples(w io.Writer, name string) {
	ex := examples(name)
	if ex == "" {
		return
	}
	fmt.Fprint(w, "\nExamples:\n")
	for _, line := range strings.Split(strings.Trim(ex, "\n"), "\n") {
		if line == "" {
			fmt.Fprintln(w)
			continue
		}
		fmt.Fprintln(w, "  "+line)
	}
}

// examples returns the examples of the command name: command lines, each
// after a comment saying what it does. A test checks that every command
// has some and that their flags exist.
func examples(name string) string {
	return map[string]string{
		"": `# the whole platform on this machine, for a first look
kith dev
# what a command does and its flags
kith help entry create`,
		"server": `# a control plane for example.org on the default address
kith server --trust-domain example.org --data /var/lib/kith
# settings from a file (see examples/server.yaml)
kith server --config server.yaml`,
		"dev": `# the demo on another port, keeping its data folder
kith dev --listen 127.0.0.1:9443 --data /tmp/kith-dev`,
		"agent": `# first start: attest with a join token, then serve the Workload API
kith agent --server https://kith.example.org:8443 --join-token "$TOKEN" --trust-bundle bundle.pem --socket /run/kith/agent.sock
# later starts reuse the identity kept in --data
kith agent --config agent.yaml`,
		"agent token": `kith agent token create --ttl 30m`,
		"agent token create": `# a join token for a node that will start within the hour
kith agent token create --ttl 1h
kith agent token create -o json`,
		"agent list": `kith agent list
kith agent list -o yaml`,
		"agent show": `kith agent show 3f1c9a2b7d`,
		"agent evict": `# the node and its workloads lose their identities now
kith agent evict 3f1c9a2b7d`,
		"proxy": `# protect the orders service: mTLS and policy in front of 127.0.0.1:8080
kith proxy --workload-socket /run/kith/agent.sock --dataplane-socket /run/kith/private/dataplane.sock --inbound 0.0.0.0:8443=http://127.0.0.1:8080 --target spiffe://example.org/orders
# let the application call payments over plain HTTP on 127.0.0.1:9001
kith proxy --config orders-proxy.yaml`,
		"witness": `kith witness --data /var/lib/kith-witness --log "$(kith audit key)"`,
		"entry": `kith entry create --spiffe-id spiffe://example.org/orders --selector unix:uid:1000
kith entry list -o yaml`,
		"entry create": `# processes of uid 1000 running /usr/bin/orders get the ID, from any agent
kith entry create --spiffe-id spiffe://example.org/orders --selector unix:uid:1000 --selector unix:path:/usr/bin/orders --parent any
# one agent serves it; the OAuth scopes its clients may hold
kith entry create --spiffe-id spiffe://example.org/billing --selector unix:uid:1001 --parent spiffe://example.org/kith/agent/3f1c9a2b7d --max-scope orders.read
# every entry of a file (as kith entry export writes it), all or none
kith entry create -f entries.yaml`,
		"entry list": `kith entry list --status quarantined
kith entry list --spiffe-id spiffe://example.org/orders -o json`,
		"entry export": `# save the registry, and load it elsewhere
kith entry export > entries.yaml
kith entry create -f entries.yaml --addr kith-2.example.org:8443
kith entry export -o json --parent any`,
		"entry show": `kith entry show spiffe://example.org/orders
kith entry show 9d2e71c0aa -o yaml`,
		"entry update": `kith entry update spiffe://example.org/orders --owner team-commerce --label env=prod`,
		"entry delete": `kith entry delete spiffe://example.org/orders
# and the OAuth clients that act for it
kith entry delete --cascade spiffe://example.org/orders`,
		"entry revoke":     `kith entry revoke spiffe://example.org/orders`,
		"entry quarantine": `kith entry quarantine spiffe://example.org/orders`,
		"entry release":    `kith entry release spiffe://example.org/orders`,
		"bundle":           `kith bundle show -o pem > bundle.pem`,
		"bundle show": `kith bundle show
kith bundle show -o pem > bundle.pem`,
		"federation": `kith federation add partner.example --bundle-endpoint https://partner.example:8443/bundle --bootstrap-bundle partner.pem`,
		"federation add": `# another Kith or SPIRE, proving its identity with an SVID (https_spiffe)
kith federation add partner.example --bundle-endpoint https://partner.example:8443/bundle --endpoint-spiffe-id spiffe://partner.example/kith/server --bootstrap-bundle partner.pem
# an endpoint with a Web PKI certificate
kith federation add cloud.example --bundle-endpoint https://cloud.example/bundle --profile https_web`,
		"federation list":    `kith federation list`,
		"federation show":    `kith federation show partner.example`,
		"federation remove":  `kith federation remove partner.example`,
		"federation refresh": `kith federation refresh partner.example`,
		"client":             `kith client create --entry spiffe://example.org/orders --scopes payments.charge --audience spiffe://example.org/payments`,
		"client create": `# a client with a secret (shown once)
kith client create --entry spiffe://example.org/orders --scopes payments.charge --audience spiffe://example.org/payments
# a workload that authenticates with its JWT-SVID: no secret at all
kith client create --entry spiffe://example.org/orders --scopes payments.charge --audience spiffe://example.org/payments --auth-method jwt_svid`,
		"client list":   `kith client list --entry spiffe://example.org/orders`,
		"client show":   `kith client show kc_7Hq2`,
		"client delete": `kith client delete kc_7Hq2`,
		"client rotate-secret": `# the old secret keeps working for an hour
kith client rotate-secret --overlap 1h kc_7Hq2`,
		"client add-key":       `kith client add-key --jwk orders-key.pub.jwk kc_7Hq2`,
		"client remove-key":    `kith client remove-key kc_7Hq2 key-1`,
		"client revoke-tokens": `kith client revoke-tokens --reason "secret leaked" kc_7Hq2`,
		"policy": `kith policy test -f examples/policies/orders.yaml -c examples/policies/orders.cases.yaml
kith policy apply -f examples/policies/orders.yaml`,
		"policy apply":  `kith policy apply -f orders.yaml -f payments.yaml`,
		"policy list":   `kith policy list -o yaml`,
		"policy show":   `kith policy show orders`,
		"policy delete": `kith policy delete orders`,
		"policy diff":   `kith policy diff -f orders.yaml`,
		"policy lint":   `kith policy lint -f orders.yaml`,
		"policy fmt": `# rewrite files in canonical form
kith policy fmt -w orders.yaml payments.yaml
# in CI: list the files that are not, and fail
kith policy fmt --check policies/*.yaml`,
		"policy test": `kith policy test -f orders.yaml -c orders.cases.yaml -v
# and which rules no case reached
kith policy test -f orders.yaml -c orders.cases.yaml --coverage`,
		"policy explain": `kith policy explain -f orders.yaml --request @request.json
kith policy explain --request '{"target":"spiffe://example.org/orders","caller":{"spiffe_id":"spiffe://example.org/billing"},"request":{"method":"GET","path":"/orders/7"}}'`,
		"svid": `kith svid mint --spiffe-id spiffe://example.org/orders --cert orders.pem --key orders-key.pem`,
		"svid mint": `# an X509-SVID; the key is made here and never sent
kith svid mint --spiffe-id spiffe://example.org/orders --cert orders.pem --key orders-key.pem --bundle bundle.pem
# a JWT-SVID for one audience
kith svid mint --jwt --spiffe-id spiffe://example.org/orders --audience https://payments.example.org`,
		"audit": `kith audit tail --follow`,
		"audit tail": `# changes as they happen
kith audit tail --follow
kith audit tail --type entry.created --limit 5`,
		"audit query":      `kith audit query --actor admin --since 2026-12-01T00:00:00Z -o yaml`,
		"audit show":       `kith audit show 42`,
		"audit export":     `kith audit export --format csv --out events.csv --type svid.minted`,
		"audit checkpoint": `kith audit checkpoint -o json`,
		"audit key":        `kith audit key > ledger.vkey`,
		"audit proof":      `kith audit proof 42 > evidence.json`,
		"audit verify": `# one event, offline
kith audit verify evidence.json --key-file ledger.vkey
# the whole log, remembering what it saw
kith audit verify --log https://kith.example.org:8443 --key-file ledger.vkey --state verify.state`,
		"audit types": `kith audit types -o yaml`,
		"trust":       `kith trust replay calls.jsonl > signals.jsonl`,
		"trust list": `# identities below high trust
kith trust list --level low
kith trust list --identity spiffe://example.org/orders -o json`,
		"trust show": `# an identity's score, level and the reasons behind them
kith trust show spiffe://example.org/orders`,
		"trust history": `# the signals and level changes of an identity, from the ledger
kith trust history spiffe://example.org/orders --limit 20`,
		"trust clear": `# restore an identity's trust after an investigation (recorded with your name)
kith trust clear spiffe://example.org/orders --reason "ticket SEC-42: a load test"`,
		"signal": `kith signal list --since 1h`,
		"signal list": `# the last hour's signals of one identity
kith signal list --identity spiffe://example.org/orders --since 1h
kith signal list --kind source.concurrent -o json`,
		"scan": `# files and git history of a repository; live Kith secrets checked against the server
kith scan .
# before a commit (a pre-commit hook): only what is staged, no server needed
kith scan --staged .
# revoke every live Kith secret found, and write SARIF for the code host
kith scan --revoke -o sarif . > scan.sarif`,
		"trust replay": `kith audit export --type call.decided > calls.jsonl
kith trust replay --warm-up 12h calls.jsonl > signals.jsonl`,
		"simulate": `kith simulate --out calls.jsonl --days 3
kith simulate --evaluate --calls calls.jsonl --labels calls.labels.jsonl --signals signals.jsonl`,
		"token": `kith token fetch --client-id kc_7Hq2 --client-secret-file orders.secret`,
		"token fetch": `# a client with a secret; prints the access token alone
kith token fetch --client-id kc_7Hq2 --client-secret-file orders.secret --scope payments.charge
# a workload with its JWT-SVID from the local agent, no secret
kith token fetch --jwt-svid --workload-socket unix:///run/kith/agent.sock -o json
# private_key_jwt with a registered key
kith token fetch --client-id kc_7Hq2 --key orders-key.pem --key-id key-1`,
		"workload":       `kith workload fetch x509 --socket unix:///run/kith/agent.sock`,
		"workload fetch": `kith workload fetch x509 --write /tmp/svid`,
		"workload fetch x509": `# the workload's X509-SVIDs and bundles; --write saves them as PEM files
kith workload fetch x509 --socket unix:///run/kith/agent.sock
kith workload fetch x509 --write /tmp/svid`,
		"workload fetch jwt": `kith workload fetch jwt --audience https://payments.example.org
kith workload fetch jwt --audience sts.amazonaws.com -o json`,
		"workload fetch bundle": `kith workload fetch bundle -o pem > bundle.pem`,
		"healthcheck": `# the server of the data folder, verified the SPIFFE way
kith healthcheck
kith healthcheck --addr kith.example.org:8443 --ca-bundle bundle.pem
# the local agent
kith healthcheck --agent --socket unix:///run/kith/agent.sock`,
		"config": `kith config check server.yaml`,
		"config check": `# which command the file is for is found from its settings
kith config check examples/server.yaml
kith config check --for proxy orders-proxy.yaml`,
		"completion": `# bash, for this shell; add it to ~/.bashrc to keep it
source <(kith completion bash)
kith completion zsh > "${fpath[1]}/_kith"
kith completion fish > ~/.config/fish/completions/kith.fish`,
		"version": `kith version -o json`,
	}[name]
}
