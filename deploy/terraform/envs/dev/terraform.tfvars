# dev: fast and cheap. Two AZs (the EKS minimum) but one NAT and one AZ's worth of nodes, SPOT
# everywhere, small root disks, short log retention, no deletion protection.
account_id   = "111111111111" # replace with your dev account
region       = "us-east-1"
environment  = "dev"
cluster_name = "nodeops-dev"

network = {
  vpc_cidr                   = "10.10.0.0/16"
  az_count                   = 2
  nat_gateway_mode           = "single"
  flow_log_retention_in_days = 14
}

# Reach the API from the office/VPN egress only. Remove to keep it private.
endpoint = {
  public_access       = true
  public_access_cidrs = ["203.0.113.0/24"] # replace with your egress CIDR
}

access_entries = {
  admins = {
    principal_arn = "arn:aws:iam::111111111111:role/nodeops-admin"
    policy_associations = {
      cluster_admin = { policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" }
    }
  }
}

allow_spot                  = true
deletion_protection         = false
kms_deletion_window_in_days = 7
log_retention_in_days       = 14

# Chain pools pinned to the first AZ (subnet_indexes = [0]) so their volumes and nodes meet;
# outbound-only P2P through the NAT is enough for testnets.
# node_groups: node_groups.auto.tfvars.json (JSON, so tests/deploy/deploy_checks.py scheduling
# can read the pools it fits every rendered pod onto).

snapshot_restore = {
  bucket_name = "nodeops-dev-snapshots" # replace: the bucket holding chain snapshots
  prefixes    = ["ethereum/", "polygon/", "solana/"]
}

# Created once per account from the controller's published policy (docs/deploy.md, step 3).
load_balancer_controller_policy_arn = "arn:aws:iam::111111111111:policy/AWSLoadBalancerControllerIAMPolicy"
