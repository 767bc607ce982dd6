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
    policy_associations = {
      edit = {
        policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
        access_scope = { type = "namespace", namespaces = ["nodeops", "monitoring"] }
      }
    }
  }
  oncall = {
    principal_arn = "arn:aws:iam::333333333333:role/nodeops-oncall"
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

node_groups = {
  system = {
    kind           = "system"
    instance_types = ["m7i.large"]
    min_size       = 3
    max_size       = 6
  }
  gateway = {
    kind           = "gateway"
    instance_types = ["c7i.xlarge"]
    min_size       = 3
    max_size       = 9
  }
  ethereum-a = {
    kind           = "chain"
    chain          = "ethereum"
    instance_types = ["r7i.2xlarge"]
    min_size       = 1
    max_size       = 2
    subnet_tier    = "public"
    subnet_indexes = [0]
    root_volume    = { size_gib = 100 }
  }
  ethereum-b = {
    kind           = "chain"
    chain          = "ethereum"
    instance_types = ["r7i.2xlarge"]
    min_size       = 1
    max_size       = 2
    subnet_tier    = "public"
    subnet_indexes = [1]
    root_volume    = { size_gib = 100 }
  }
  polygon-a = {
    kind           = "chain"
    chain          = "polygon"
    instance_types = ["m7i.4xlarge"]
    min_size       = 1
    max_size       = 2
    subnet_tier    = "public"
    subnet_indexes = [1]
    root_volume    = { size_gib = 100 }
  }
  polygon-b = {
    kind           = "chain"
    chain          = "polygon"
    instance_types = ["m7i.4xlarge"]
    min_size       = 1
    max_size       = 2
    subnet_tier    = "public"
    subnet_indexes = [2]
    root_volume    = { size_gib = 100 }
  }
  solana-a = {
    kind           = "chain"
    chain          = "solana"
    instance_types = ["r7a.16xlarge"]
    min_size       = 1
    max_size       = 1
    subnet_tier    = "public"
    subnet_indexes = [2]
    root_volume    = { size_gib = 200, iops = 6000, throughput = 500 }
  }
  solana-b = {
    kind           = "chain"
    chain          = "solana"
    instance_types = ["r7a.16xlarge"]
    min_size       = 1
    max_size       = 1
    subnet_tier    = "public"
    subnet_indexes = [0]
    root_volume    = { size_gib = 200, iops = 6000, throughput = 500 }
  }
}

snapshot_restore = {
  bucket_name = "nodeops-prod-snapshots" # replace
  prefixes    = ["ethereum/", "polygon/", "solana/"]
}

# Created once per account from the controller's published policy (docs/deploy.md, step 3).
load_balancer_controller_policy_arn = "arn:aws:iam::333333333333:policy/AWSLoadBalancerControllerIAMPolicy"
