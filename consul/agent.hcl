# Consul client agent beside mcp-sidecar instances (one agent per host; each sidecar talks to its local agent).
# Check it with: consul validate consul/agent.hcl
# Run it with:   consul agent -config-file consul/agent.hcl
#
# The sidecar registers through this agent's HTTP API (--consul http://127.0.0.1:8500). Registrations live
# in the agent: when the agent restarts empty, each sidecar notices within one TTL and registers again.

datacenter = "dc1"
data_dir   = "/var/lib/consul"
server     = false

# Gossip on the host's private address; the HTTP API only on loopback, where the sidecars are.
bind_addr   = "{{ GetPrivateIP }}"
client_addr = "127.0.0.1"

# The Consul servers of the datacenter (DNS names, addresses or cloud auto-join strings).
retry_join = ["consul-server-1", "consul-server-2", "consul-server-3"]

ports {
  http  = 8500
  dns   = 8600
  grpc  = -1
}

# Services of an agent that left are removed from the catalog at once instead of lingering as failing.
leave_on_terminate = true

# The agent runs each sidecar's /readyz HTTP check; its JSON answer is the check output shown in the UI.
check_output_max_size = 4096

acl {
  enabled                  = true
  default_policy           = "deny"
  enable_token_persistence = true
  tokens {
    # The agent's own token (node:write on this node); sidecars use their own tokens, see sidecar-policy.hcl.
    # Set it with `consul acl set-agent-token agent <SecretID>` instead of writing it into this file.
  }
}

telemetry {
  disable_hostname = true
}
