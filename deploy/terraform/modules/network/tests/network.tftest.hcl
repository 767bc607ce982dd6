# Offline tests for the network module: mocked AWS provider, plan only.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names    = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
      zone_ids = ["euw1-az1", "euw1-az2", "euw1-az3"]
    }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name         = "nodeops-test"
  cluster_name = "nodeops-test"
  vpc_cidr     = "10.20.0.0/16"
}

run "prod_like_three_azs_one_nat_per_az" {
  command = plan

  variables {
    az_count         = 3
    nat_gateway_mode = "one_per_az"
  }

  assert {
    condition     = length(aws_subnet.private) == 3 && length(aws_subnet.public) == 3 && length(aws_subnet.intra) == 3
    error_message = "Expected one public, private and intra subnet per AZ."
  }
  assert {
    condition     = length(distinct(aws_subnet.private[*].availability_zone)) == 3 && length(distinct(aws_subnet.public[*].availability_zone)) == 3
    error_message = "Subnets must span three distinct AZs."
  }
  assert {
    condition     = length(local.overlapping_subnets) == 0 && local.subnets_inside_vpc
    error_message = "Subnet CIDRs overlap or leave the VPC."
  }
  assert {
    condition     = length(distinct(concat(aws_subnet.public[*].cidr_block, aws_subnet.private[*].cidr_block, aws_subnet.intra[*].cidr_block))) == 9
    error_message = "Every subnet needs its own CIDR."
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_eip.nat) == 3 && length(aws_route.private_nat) == 3
    error_message = "one_per_az must create a NAT gateway (and default route) per AZ."
  }
  assert {
    condition     = output.nat_gateway_count == 3
    error_message = "nat_gateway_count output is wrong."
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "Public subnets must not hand out public IPs by default."
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.tags["kubernetes.io/role/elb"] == "1" && s.tags["kubernetes.io/cluster/nodeops-test"] == "shared"])
    error_message = "Public subnets need the ELB discovery tags."
  }
  assert {
    condition     = alltrue([for s in aws_subnet.private : s.tags["kubernetes.io/role/internal-elb"] == "1" && s.tags["karpenter.sh/discovery"] == "nodeops-test"])
    error_message = "Private subnets need the internal-ELB and Karpenter discovery tags."
  }
  assert {
    condition     = aws_subnet.private[0].cidr_block == "10.20.0.0/19" && aws_subnet.public[0].cidr_block == "10.20.192.0/22" && aws_subnet.intra[0].cidr_block == "10.20.224.0/24"
    error_message = "Automatic subnet layout changed."
  }
}

run "dev_two_azs_single_nat" {
  command = plan

  variables {
    az_count         = 2
    nat_gateway_mode = "single"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_eip.nat) == 1
    error_message = "single mode must create exactly one NAT gateway."
  }
  assert {
    condition     = length(aws_route.private_nat) == 2
    error_message = "Every private route table still needs a default route through the shared NAT."
  }
  assert {
    condition     = length(distinct(aws_subnet.private[*].availability_zone)) == 2
    error_message = "Subnets must span two AZs."
  }
}

run "no_nat" {
  command = plan

  variables {
    az_count         = 2
    nat_gateway_mode = "none"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_route.private_nat) == 0
    error_message = "none must create no NAT gateway and no default route."
  }
}

run "flow_logs_and_endpoints_on_by_default" {
  command = plan

  assert {
    condition     = length(aws_flow_log.this) == 1 && aws_flow_log.this[0].traffic_type == "ALL"
    error_message = "VPC flow logs must be on by default and record all traffic."
  }
  assert {
    condition     = aws_cloudwatch_log_group.flow_logs[0].retention_in_days == 90
    error_message = "Flow logs need a finite retention."
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["ecr.api", "ecr.dkr", "sts", "ec2", "logs"])
    error_message = "Private nodes need ECR, STS, EC2 and logs interface endpoints."
  }
  assert {
    condition     = alltrue([for k, e in aws_vpc_endpoint.interface : e.private_dns_enabled && e.service_name == "com.amazonaws.eu-west-1.${k}"])
    error_message = "Interface endpoints need private DNS and regional service names."
  }
  assert {
    condition     = aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.s3[0].service_name == "com.amazonaws.eu-west-1.s3"
    error_message = "S3 must be reached through the gateway endpoint."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.endpoints_https[0].cidr_ipv4 == "10.20.0.0/16" && aws_vpc_security_group_ingress_rule.endpoints_https[0].from_port == 443
    error_message = "Endpoints must accept HTTPS from the VPC only."
  }
  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The default security group must carry no rules."
  }
}

# --- guards: each run flips a safe value and must be rejected --------------------------------

run "rejects_single_az" {
  command = plan

  variables {
    az_count = 1
  }

  expect_failures = [var.az_count]
}

run "rejects_overlapping_subnets" {
  command = plan

  variables {
    az_count = 2
    subnet_cidrs = {
      public  = ["10.20.0.0/24", "10.20.1.0/24"]
      private = ["10.20.0.0/19", "10.20.32.0/19"] # overlaps the first public subnet
      intra   = ["10.20.224.0/24", "10.20.225.0/24"]
    }
  }

  expect_failures = [aws_vpc.this]
}

run "rejects_subnets_outside_vpc" {
  command = plan

  variables {
    az_count = 2
    subnet_cidrs = {
      public  = ["10.20.192.0/22", "10.20.196.0/22"]
      private = ["10.20.0.0/19", "10.99.0.0/19"]
      intra   = ["10.20.224.0/24", "10.20.225.0/24"]
    }
  }

  expect_failures = [aws_vpc.this]
}

run "rejects_never_expiring_flow_logs" {
  command = plan

  variables {
    flow_logs = { retention_in_days = 0 }
  }

  expect_failures = [var.flow_logs]
}
