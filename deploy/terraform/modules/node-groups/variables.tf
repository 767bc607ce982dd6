variable "cluster_name" {
  description = "Name of the EKS cluster the node groups join."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes version of the nodes; null follows the control plane."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Subnets by tier, one per AZ in the same order: private (default for every pool) and public (only for chain pools that ask for public IPs to accept inbound P2P)."
  type = object({
    private = list(string)
    public  = optional(list(string), [])
  })
}

variable "node_security_group_id" {
  description = "Security group of every node (security-groups module)."
  type        = string
}

variable "p2p_security_group_ids" {
  description = "P2P security group per chain (security-groups module); attached only to that chain's pools."
  type        = map(string)
  default     = {}
}

variable "ebs_kms_key_arn" {
  description = "KMS key that encrypts the nodes' root volumes (eks module's ebs_kms_key_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.ebs_kms_key_arn))
    error_message = "ebs_kms_key_arn must be a KMS key ARN; node volumes are always encrypted with a customer-managed key."
  }
}

variable "allow_spot" {
  description = "Allow SPOT capacity. Off by default: a reclaimed instance takes a syncing node down. dev turns it on."
  type        = bool
  default     = false
}

variable "node_groups" {
  description = <<-EOT
    Managed node groups by name. kind is system (cluster add-ons, untainted), gateway (the nodeops
    gateway, tainted nodeops.io/pool=gateway) or chain (one chain's nodes, tainted
    nodeops.io/chain=<chain>, plus that chain's P2P security group). Labels nodeops.io/pool,
    nodeops.io/kind and nodeops.io/chain are added. subnet_indexes pins a pool to some AZs (a chain's
    EBS volumes live in one AZ). desired_size is only the initial size; the autoscaler owns it later.
    bootstrap sets host settings in the launch template's user data, before the node joins: kernel
    sysctls, the open-file and locked-memory limits containers inherit (containerd's LimitNOFILE and
    LimitMEMLOCK, bytes), and a RAID0 of the
    instance-store NVMe disks mounted at instance_store_mount (Solana's ledger and accounts).
  EOT
  type = map(object({
    kind           = string
    chain          = optional(string)
    instance_types = list(string)
    capacity_type  = optional(string, "ON_DEMAND")
    ami_type       = optional(string, "AL2023_x86_64_STANDARD")
    min_size       = number
    max_size       = number
    desired_size   = optional(number)
    root_volume = optional(object({
      size_gib   = optional(number, 50)
      iops       = optional(number, 3000)
      throughput = optional(number, 125)
    }), {})
    subnet_tier         = optional(string, "private")
    subnet_indexes      = optional(list(number))
    labels              = optional(map(string), {})
    taints              = optional(list(object({ key = string, value = optional(string), effect = string })), [])
    max_unavailable     = optional(number, 1)
    imds_hop_limit      = optional(number, 1)
    detailed_monitoring = optional(bool, true)
    auto_repair         = optional(bool, true)
    bootstrap = optional(object({
      sysctls              = optional(map(string), {})
      nofile               = optional(number)
      memlock              = optional(number)
      instance_store_mount = optional(string)
    }), {})
  }))

  validation {
    condition     = alltrue([for g in values(var.node_groups) : contains(["system", "gateway", "chain"], g.kind)])
    error_message = "node_groups[*].kind must be system, gateway or chain."
  }

  validation {
    condition = alltrue([for g in values(var.node_groups) :
      g.kind == "chain" ? contains(["ethereum", "polygon", "solana"], coalesce(g.chain, "-")) : g.chain == null
    ])
    error_message = "A chain pool needs chain = ethereum, polygon or solana; other kinds must not set chain."
  }

  validation {
    condition     = length([for g in values(var.node_groups) : g if g.kind == "system" && g.min_size >= 1]) >= 1
    error_message = "At least one system pool with min_size >= 1 is required: coredns and the add-ons run there."
  }

  validation {
    condition = alltrue([for g in values(var.node_groups) :
      g.min_size >= 0 && g.max_size >= 1 && g.min_size <= g.max_size &&
      coalesce(g.desired_size, g.min_size) >= g.min_size && coalesce(g.desired_size, g.min_size) <= g.max_size
    ])
    error_message = "Scaling bounds must satisfy 0 <= min_size <= desired_size <= max_size and max_size >= 1."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : contains(["ON_DEMAND", "SPOT"], g.capacity_type)])
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }

  validation {
    condition     = var.allow_spot || alltrue([for g in values(var.node_groups) : g.capacity_type == "ON_DEMAND"])
    error_message = "SPOT capacity needs allow_spot = true (dev only): a reclaimed instance interrupts a syncing node."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : g.imds_hop_limit == 1])
    error_message = "imds_hop_limit must be 1: a higher limit lets every pod read the node role's credentials from IMDS. Pods get AWS access through IRSA or Pod Identity."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : contains(["private", "public"], g.subnet_tier) && (g.subnet_tier == "private" || g.kind == "chain")])
    error_message = "subnet_tier must be private or public, and only chain pools (which need inbound P2P) may use public subnets."
  }

  validation {
    condition = alltrue([for g in values(var.node_groups) :
      g.root_volume.size_gib >= 20 && g.root_volume.size_gib <= 16384 &&
      g.root_volume.iops >= 3000 && g.root_volume.iops <= 16000 &&
      g.root_volume.throughput >= 125 && g.root_volume.throughput <= 1000
    ])
    error_message = "root_volume must be gp3-valid: size 20-16384 GiB, iops 3000-16000, throughput 125-1000 MiB/s."
  }

  validation {
    condition     = alltrue(flatten([for g in values(var.node_groups) : [for t in g.taints : contains(["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"], t.effect)]]))
    error_message = "Taint effects must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : startswith(g.ami_type, "AL2023_")])
    error_message = "ami_type must be an Amazon Linux 2023 type (AL2023_x86_64_STANDARD, AL2023_ARM_64_STANDARD, ...): the root device and bootstrap are built for it."
  }

  validation {
    condition = alltrue([for g in values(var.node_groups) :
      alltrue([for k, v in g.bootstrap.sysctls : can(regex("^[a-z0-9_.]+$", k)) && can(regex("^[0-9 ]+$", v))]) &&
      (g.bootstrap.instance_store_mount == null || can(regex("^/mnt/[a-z0-9-]+$", coalesce(g.bootstrap.instance_store_mount, "-"))))
    ])
    error_message = "bootstrap.sysctls must be dotted kernel keys with numeric values; bootstrap.instance_store_mount a /mnt/<name> path."
  }

  validation {
    condition     = alltrue([for k, g in var.node_groups : can(regex("^[a-z][a-z0-9-]{0,30}$", k))])
    error_message = "Node group names must be lowercase letters, digits and hyphens, at most 31 characters."
  }
}

variable "attach_cni_policy" {
  description = "Attach AmazonEKS_CNI_Policy to the node role (the VPC CNI runs with node credentials). Turn off when the vpc-cni add-on gets its own IRSA/Pod Identity role."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
