# prod: highly available. Three AZs, a NAT per AZ, on-demand only, private API endpoint, zonal
# shift, deletion protection, a year of logs. Each chain runs one pool per AZ (pinned, so a node
# and its EBS volume stay together) and the gateway balances across them.
account_id   = "333333333333" # replace with your prod account
region       = "us-east-1"
environment  = "prod"
cluster_name = "nodeops-prod"

network = {
  vpc_cidr                   = "10.30.0.0/16"
  az_count                   = 3
  nat_gateway_mode           = "one_per_az"
  flow_log_retention_in_days = 365
}

cluster_api_ingress_cidrs = ["10.200.0.0/16"] # VPN / admin VPC (replace)

access_entries = {
  admins = {
    principal_arn = "arn:aws:iam::333333333333:role/nodeops-admin"
    policy_associations = {
      cluster_admin = { policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" }
    }
  }
  ci = {
    principal_arn = "arn:aws:iam::333333333333:role/nodeops-deployer"
    # The cluster chart binds nodeops:deployers in every NodeOps namespace (deploy/helm/cluster).
    kubernetes_groups = ["nodeops:deployers"]
    policy_associations = {
      edit = {
        policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
        access_scope = { type = "namespace", namespaces = ["nodeops-system", "monitoring", "nodes-ethereum", "nodes-polygon", "nodes-solana"] }
      }
    }
  }
  oncall = {
    principal_arn     = "arn:aws:iam::333333333333:role/nodeops-oncall"
    kubernetes_groups = ["nodeops:operators"]
    policy_associations = {
      view = { policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy" }
    }
  }
}

extra_p2p_ports = [
  { chain = "ethereum", name = "cl-quic", protocol = "udp", from_port = 9001 },
]

deletion_protection   = true
zonal_shift           = true
log_retention_in_days = 365

# node_groups: node_groups.auto.tfvars.json (JSON, so tests/deploy/deploy_checks.py scheduling
# can read the pools it fits every rendered pod onto).

snapshot_restore = {
  bucket_name = "nodeops-prod-snapshots" # replace
  prefixes    = ["ethereum/", "polygon/", "solana/"]
}

# Created once per account from the controller's published policy (docs/deploy.md, step 3).
load_balancer_controller_policy_arn = "arn:aws:iam::333333333333:policy/AWSLoadBalancerControllerIAMPolicy"
