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
node_groups = {
  system = {
    kind           = "system"
    instance_types = ["t3.medium", "t3a.medium"]
    capacity_type  = "SPOT"
    min_size       = 1
    max_size       = 3
  }
  gateway = {
    kind           = "gateway"
    instance_types = ["c7i.large", "c6i.large"]
    capacity_type  = "SPOT"
    min_size       = 1
    max_size       = 2
  }
  ethereum = {
    kind           = "chain"
    chain          = "ethereum"
    instance_types = ["m7i.xlarge", "m6i.xlarge"]
    capacity_type  = "SPOT"
    min_size       = 0
    max_size       = 1
    desired_size   = 1
    subnet_indexes = [0]
  }
  polygon = {
    kind           = "chain"
    chain          = "polygon"
    instance_types = ["m7i.2xlarge", "m6i.2xlarge"]
    capacity_type  = "SPOT"
    min_size       = 0
    max_size       = 1
    subnet_indexes = [0]
  }
  solana = {
    kind           = "chain"
    chain          = "solana"
    instance_types = ["r7a.4xlarge", "r6a.4xlarge"]
    capacity_type  = "SPOT"
    min_size       = 0
    max_size       = 1
    subnet_indexes = [0]
  }
}

snapshot_restore = {
  bucket_name = "nodeops-dev-snapshots" # replace: the bucket holding chain snapshots
  prefixes    = ["ethereum/", "polygon/", "solana/"]
}

# Created once per account from the controller's published policy (docs/deploy.md, step 3).
load_balancer_controller_policy_arn = "arn:aws:iam::111111111111:policy/AWSLoadBalancerControllerIAMPolicy"
