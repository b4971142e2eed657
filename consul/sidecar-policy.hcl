# ACL policy for one mcp-sidecar instance (or all instances of one MCP server).
#
# The sidecar registers its instance under the service name it serves (--name), passes and fails its own
# "MCP ping" TTL check, reads its own service back (to notice an agent that forgot it) and deregisters on
# shutdown. Every one of those calls needs exactly service:write on that one name.
# Replicas also look each other up (GET /v1/health/service/<name>?passing) to forward an MCP 2026-07-28 retry
# to the replica that holds its waiting call; Consul leaves out every instance whose node the token may not
# read, so the lookup needs node:read as well (without it every such retry fails as "owner gone").
# (The /readyz HTTP check is run by the agent itself and needs no token.)
#
# Create one policy per MCP server name, replacing "memory" with the sidecar's --name:
#   consul acl policy create -name mcp-sidecar-memory -rules @consul/sidecar-policy.hcl
#   consul acl token create -description "mcp-sidecar memory" -policy-name mcp-sidecar-memory
# and hand the token's SecretID to the sidecar with --consul-token-file <path> or CONSUL_HTTP_TOKEN
# (never on the command line: it would show in process listings).

service "memory" {
  policy = "write"
}

node_prefix "" {
  policy = "read"
}
