# staging: production-like (three AZs, a NAT per AZ, on-demand, private API endpoint, chain pools
# with public IPs for inbound P2P) with smaller instances and pools; deletion protection off so it
# can be rebuilt.
account_id   = "222222222222" # replace with your staging account
region       = "us-east-1"
environment  = "staging"
cluster_name = "nodeops-staging"

network = {
  vpc_cidr                   = "10.20.0.0/16"
  az_count                   = 3
  nat_gateway_mode           = "one_per_az"
  flow_log_retention_in_days = 30
}

cluster_api_ingress_cidrs = ["10.200.0.0/16"] # VPN / admin VPC (replace)

access_entries = {
  admins = {
    principal_arn = "arn:aws:iam::222222222222:role/nodeops-admin"
    policy_associations = {
      cluster_admin = { policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" }
    }
  }
  ci = {
    principal_arn = "arn:aws:iam::222222222222:role/nodeops-deployer"
    # The cluster chart binds nodeops:deployers in every NodeOps namespace (deploy/helm/cluster).
    kubernetes_groups = ["nodeops:deployers"]
    policy_associations = {
      edit = {
        policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
        access_scope = { type = "namespace", namespaces = ["nodeops-system", "monitoring", "nodes-ethereum", "nodes-polygon", "nodes-solana"] }
      }
    }
  }
}

extra_p2p_ports = [
  { chain = "ethereum", name = "cl-quic", protocol = "udp", from_port = 9001 },
]

deletion_protection   = false
log_retention_in_days = 30

# node_groups: node_groups.auto.tfvars.json (JSON, so tests/deploy/deploy_checks.py scheduling
# can read the pools it fits every rendered pod onto).

snapshot_restore = {
  bucket_name = "nodeops-staging-snapshots" # replace
  prefixes    = ["ethereum/", "polygon/", "solana/"]
}

# Created once per account from the controller's published policy (docs/deploy.md, step 3).
load_balancer_controller_policy_arn = "arn:aws:iam::222222222222:policy/AWSLoadBalancerControllerIAMPolicy"
