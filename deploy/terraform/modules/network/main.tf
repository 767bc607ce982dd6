# VPC for one NodeOps EKS cluster: public subnets (load balancers, NAT), private subnets (nodes and
# pods) and intra subnets (EKS control-plane ENIs, no route to the internet), spread over az_count
# zones, with flow logs and the endpoints that keep node traffic to AWS APIs off the NAT.

data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  azs = slice(coalesce(var.availability_zones, data.aws_availability_zones.available.names), 0, var.az_count)

  # Automatic layout, for any prefix between /16 and /20 and up to 6 AZs:
  #   private: the first six 1/8 blocks (a /19 each in a /16: ~8k addresses for pods per AZ)
  #   public:  /22s (a /16's 7th 1/8 block), intra: /24s (the 8th 1/8 block)
  subnet_cidrs = var.subnet_cidrs != null ? var.subnet_cidrs : {
    private = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 3, i)]
    public  = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 6, 48 + i)]
    intra   = [for i in range(var.az_count) : cidrsubnet(var.vpc_cidr, 8, 224 + i)]
  }

  # Every subnet as an integer range [start, start + size), to prove that none overlap and all sit
  # inside the VPC (Terraform has no CIDR-containment function).
  all_subnet_cidrs = concat(local.subnet_cidrs.public, local.subnet_cidrs.private, local.subnet_cidrs.intra)
  ranges = [for c in concat([var.vpc_cidr], local.all_subnet_cidrs) : {
    cidr  = c
    start = sum([for i, o in split(".", cidrhost(c, 0)) : tonumber(o) * pow(256, 3 - i)])
    size  = pow(2, 32 - tonumber(split("/", c)[1]))
  }]
  vpc_range     = local.ranges[0]
  subnet_ranges = slice(local.ranges, 1, length(local.ranges))

  subnets_inside_vpc = alltrue([
    for r in local.subnet_ranges : r.start >= local.vpc_range.start && r.start + r.size <= local.vpc_range.start + local.vpc_range.size
  ])
  overlapping_subnets = flatten([
    for i, a in local.subnet_ranges : [
      for j, b in local.subnet_ranges : "${a.cidr} overlaps ${b.cidr}"
      if i < j && a.start < b.start + b.size && b.start < a.start + a.size
    ]
  ])
  one_subnet_per_az = alltrue([for t in ["public", "private", "intra"] : length(local.subnet_cidrs[t]) == var.az_count])

  nat_count = { one_per_az = var.az_count, single = 1, none = 0 }[var.nat_gateway_mode]

  cluster_tag = { "kubernetes.io/cluster/${var.cluster_name}" = "shared" }
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = length(local.azs) == var.az_count
      error_message = "The region offers fewer availability zones than az_count (${var.az_count})."
    }
    precondition {
      condition     = local.one_subnet_per_az
      error_message = "subnet_cidrs must list exactly az_count (${var.az_count}) CIDRs for each of public, private and intra."
    }
    precondition {
      condition     = length(local.overlapping_subnets) == 0
      error_message = "Subnet CIDRs overlap: ${join(", ", local.overlapping_subnets)}."
    }
    precondition {
      condition     = local.subnets_inside_vpc
      error_message = "Every subnet CIDR must lie inside vpc_cidr (${var.vpc_cidr})."
    }
  }
}

# The default security group of a new VPC allows all traffic between its members; take every rule
# away so nothing relies on it by accident.
resource "aws_default_security_group" "this" {
  vpc_id  = aws_vpc.this.id
  ingress = []
  egress  = []
  tags    = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}
