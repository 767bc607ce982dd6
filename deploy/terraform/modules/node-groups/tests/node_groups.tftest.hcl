# Offline tests for the node-groups module: mocked AWS provider, plan only.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  cluster_name = "nodeops-test"
  subnet_ids = {
    private = ["subnet-priv-a", "subnet-priv-b", "subnet-priv-c"]
    public  = ["subnet-pub-a", "subnet-pub-b", "subnet-pub-c"]
  }
  node_security_group_id = "sg-node"
  p2p_security_group_ids = { ethereum = "sg-p2p-eth", polygon = "sg-p2p-pol", solana = "sg-p2p-sol" }
  ebs_kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/ebs"
  node_groups = {
    system   = { kind = "system", instance_types = ["m7i.large"], min_size = 2, max_size = 4 }
    gateway  = { kind = "gateway", instance_types = ["c7i.xlarge"], min_size = 2, max_size = 6, desired_size = 3 }
    ethereum = { kind = "chain", chain = "ethereum", instance_types = ["r7i.2xlarge"], min_size = 1, max_size = 2, subnet_tier = "public", subnet_indexes = [0], root_volume = { size_gib = 100 } }
    polygon  = { kind = "chain", chain = "polygon", instance_types = ["r7i.4xlarge"], min_size = 0, max_size = 2 }
    solana   = { kind = "chain", chain = "solana", instance_types = ["r7a.12xlarge"], min_size = 0, max_size = 1, root_volume = { size_gib = 200, iops = 6000, throughput = 500 } }
  }
}

run "imdsv2_encrypted_gp3_monitoring" {
  command = plan

  assert {
    condition = alltrue([for lt in aws_launch_template.this :
      lt.metadata_options[0].http_tokens == "required" && lt.metadata_options[0].http_put_response_hop_limit == 1 && lt.metadata_options[0].http_endpoint == "enabled"
    ])
    error_message = "Every launch template must require IMDSv2 with hop limit 1."
  }
  assert {
    condition = alltrue([for lt in aws_launch_template.this :
      lt.block_device_mappings[0].ebs[0].encrypted == "true" && lt.block_device_mappings[0].ebs[0].volume_type == "gp3" && lt.block_device_mappings[0].ebs[0].kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/ebs"
    ])
    error_message = "Every root volume must be gp3, encrypted with the EBS KMS key."
  }
  assert {
    condition     = alltrue([for lt in aws_launch_template.this : lt.monitoring[0].enabled])
    error_message = "Detailed monitoring must be on."
  }
  assert {
    condition     = aws_launch_template.this["solana"].block_device_mappings[0].ebs[0].iops == 6000 && aws_launch_template.this["ethereum"].block_device_mappings[0].ebs[0].volume_size == 100
    error_message = "Per-pool root volume settings are not applied."
  }
}

run "labels_and_taints_isolate_pools" {
  command = plan

  assert {
    condition     = length(aws_eks_node_group.this["system"].taint) == 0 && aws_eks_node_group.this["system"].labels["nodeops.io/kind"] == "system"
    error_message = "The system pool stays untainted (add-ons run there)."
  }
  assert {
    condition     = aws_eks_node_group.this["gateway"].taint == toset([{ key = "nodeops.io/pool", value = "gateway", effect = "NO_SCHEDULE" }])
    error_message = "The gateway pool must be tainted for the gateway only."
  }
  assert {
    condition = alltrue([for c in ["ethereum", "polygon", "solana"] :
      aws_eks_node_group.this[c].taint == toset([{ key = "nodeops.io/chain", value = c, effect = "NO_SCHEDULE" }]) &&
      aws_eks_node_group.this[c].labels["nodeops.io/chain"] == c && aws_eks_node_group.this[c].labels["nodeops.io/pool"] == c
    ])
    error_message = "Each chain pool must be labelled and tainted with its chain."
  }
  assert {
    condition     = aws_autoscaling_group_tag.this["ethereum|k8s.io/cluster-autoscaler/node-template/taint/nodeops.io/chain"].tag[0].value == "ethereum:NoSchedule"
    error_message = "The autoscaler needs the taint as a node-template tag."
  }
  assert {
    condition     = aws_eks_node_group.this["polygon"].tags["k8s.io/cluster-autoscaler/enabled"] == "true" && aws_eks_node_group.this["polygon"].tags["k8s.io/cluster-autoscaler/nodeops-test"] == "owned"
    error_message = "Autoscaler discovery tags missing."
  }
}

run "scaling_bounds_and_capacity" {
  command = plan

  assert {
    condition = alltrue([for k, g in aws_eks_node_group.this :
      g.scaling_config[0].min_size <= g.scaling_config[0].desired_size && g.scaling_config[0].desired_size <= g.scaling_config[0].max_size
    ])
    error_message = "desired_size must lie within min/max."
  }
  assert {
    condition     = aws_eks_node_group.this["gateway"].scaling_config[0].desired_size == 3 && aws_eks_node_group.this["system"].scaling_config[0].desired_size == 2
    error_message = "desired_size defaults to min_size unless given."
  }
  assert {
    condition     = alltrue([for g in aws_eks_node_group.this : g.capacity_type == "ON_DEMAND"])
    error_message = "ON_DEMAND is the default."
  }
}

run "p2p_groups_and_subnets" {
  command = plan

  assert {
    condition     = aws_launch_template.this["polygon"].vpc_security_group_ids == toset(["sg-node", "sg-p2p-pol"])
    error_message = "A chain pool gets the node group plus its own chain's P2P group."
  }
  assert {
    condition     = aws_launch_template.this["gateway"].vpc_security_group_ids == toset(["sg-node"]) && aws_launch_template.this["system"].vpc_security_group_ids == toset(["sg-node"])
    error_message = "Non-chain pools get no P2P group."
  }
  assert {
    condition = (aws_launch_template.this["ethereum"].network_interfaces[0].associate_public_ip_address == "true" &&
      aws_launch_template.this["ethereum"].network_interfaces[0].security_groups == toset(["sg-node", "sg-p2p-eth"]) &&
    aws_eks_node_group.this["ethereum"].subnet_ids == toset(["subnet-pub-a"]))
    error_message = "A public chain pool pinned to AZ index 0 gets a public IP in that subnet only."
  }
  assert {
    condition     = aws_eks_node_group.this["gateway"].subnet_ids == toset(["subnet-priv-a", "subnet-priv-b", "subnet-priv-c"])
    error_message = "Pools default to all private subnets."
  }
}

run "spot_allowed_when_enabled" {
  command = plan

  variables {
    allow_spot = true
    node_groups = {
      system   = { kind = "system", instance_types = ["t3.medium"], min_size = 1, max_size = 2, capacity_type = "SPOT" }
      ethereum = { kind = "chain", chain = "ethereum", instance_types = ["m7i.xlarge", "m6i.xlarge"], min_size = 0, max_size = 1, capacity_type = "SPOT" }
    }
  }

  assert {
    condition     = aws_eks_node_group.this["ethereum"].capacity_type == "SPOT"
    error_message = "SPOT should pass through when allowed."
  }
}

# --- guards: each run flips a safe value and must be rejected --------------------------------

run "rejects_imds_hop_limit_2" {
  command = plan

  variables {
    node_groups = {
      system = { kind = "system", instance_types = ["m7i.large"], min_size = 1, max_size = 2, imds_hop_limit = 2 }
    }
  }

  expect_failures = [var.node_groups]
}

run "rejects_spot_outside_dev" {
  command = plan

  variables {
    node_groups = {
      system = { kind = "system", instance_types = ["m7i.large"], min_size = 1, max_size = 2, capacity_type = "SPOT" }
    }
  }

  expect_failures = [var.node_groups]
}

run "rejects_inverted_scaling_bounds" {
  command = plan

  variables {
    node_groups = {
      system = { kind = "system", instance_types = ["m7i.large"], min_size = 3, max_size = 2 }
    }
  }

  expect_failures = [var.node_groups]
}

run "rejects_public_gateway_pool" {
  command = plan

  variables {
    node_groups = {
      system  = { kind = "system", instance_types = ["m7i.large"], min_size = 1, max_size = 2 }
      gateway = { kind = "gateway", instance_types = ["c7i.large"], min_size = 1, max_size = 2, subnet_tier = "public" }
    }
  }

  expect_failures = [var.node_groups]
}

run "rejects_missing_system_pool" {
  command = plan

  variables {
    node_groups = {
      ethereum = { kind = "chain", chain = "ethereum", instance_types = ["m7i.large"], min_size = 1, max_size = 2 }
    }
  }

  expect_failures = [var.node_groups]
}

run "rejects_unencrypted_root_volume_key" {
  command = plan

  variables {
    ebs_kms_key_arn = ""
  }

  expect_failures = [var.ebs_kms_key_arn]
}

run "rejects_subnet_index_out_of_range" {
  command = plan

  variables {
    node_groups = {
      system = { kind = "system", instance_types = ["m7i.large"], min_size = 1, max_size = 2, subnet_indexes = [5] }
    }
  }

  expect_failures = [aws_eks_node_group.this["system"]]
}

# Solana: the kernel settings agave needs are set on the host before the node joins, and the
# ledger/accounts NVMe is assembled and mounted; pools without a bootstrap get no user data.
run "solana_bootstrap_user_data" {
  command = plan

  variables {
    node_groups = {
      system = { kind = "system", instance_types = ["m7i.large"], min_size = 2, max_size = 4 }
      solana = {
        kind = "chain", chain = "solana", instance_types = ["r6id.16xlarge"], min_size = 0, max_size = 2
        bootstrap = {
          sysctls              = { "vm.max_map_count" = "1000000", "net.core.rmem_max" = "134217728", "fs.nr_open" = "1000000" }
          nofile               = 1000000
          memlock              = 2000000000
          instance_store_mount = "/mnt/solana"
        }
      }
    }
  }

  assert {
    condition     = aws_launch_template.this["system"].user_data == null
    error_message = "A pool without bootstrap settings gets no user data."
  }
  assert {
    condition = alltrue([for want in ["vm.max_map_count = 1000000", "net.core.rmem_max = 134217728", "fs.nr_open = 1000000", "sysctl --system", "LimitNOFILE=%d", "1000000", "LimitMEMLOCK=%d", "2000000000", "mdadm --create", "mount -o noatime", "mnt=/mnt/solana"] :
    strcontains(base64decode(aws_launch_template.this["solana"].user_data), want)])
    error_message = "The Solana launch template must set the sysctls, containerd's nofile and memlock and mount the NVMe array."
  }
  assert {
    condition     = startswith(base64decode(aws_launch_template.this["solana"].user_data), "MIME-Version: 1.0")
    error_message = "AL2023 managed nodes need MIME multipart user data (EKS appends its nodeadm part)."
  }
}

run "rejects_bad_sysctl_value" {
  command = plan

  variables {
    node_groups = {
      system = { kind = "system", instance_types = ["m7i.large"], min_size = 2, max_size = 4, bootstrap = { sysctls = { "vm.max_map_count" = "1000000; rm -rf /" } } }
    }
  }

  expect_failures = [var.node_groups]
}
