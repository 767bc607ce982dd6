# Shared by every environment (envs/<env>/variables.tf links here); only terraform.tfvars and
# backend.tf's state key differ.
# Optional attributes without defaults here fall through to the modules' secure defaults.

variable "account_id" {
  description = "AWS account this environment lives in; the provider refuses to touch any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "environment" {
  description = "Environment name."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "cluster_name" {
  description = "EKS cluster name (also the prefix of every resource name)."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the cluster and its nodes."
  type        = string
  default     = "1.33"
}

variable "network" {
  description = "VPC shape: CIDR, number of AZs, NAT mode, flow-log retention and interface endpoints (network module)."
  type = object({
    vpc_cidr                   = string
    az_count                   = number
    nat_gateway_mode           = string
    flow_log_retention_in_days = optional(number)
    interface_endpoints        = optional(list(string))
  })

  validation {
    condition     = var.environment != "prod" || (var.network.az_count >= 3 && var.network.nat_gateway_mode == "one_per_az")
    error_message = "prod spans at least three AZs with a NAT gateway in each."
  }
}

variable "endpoint" {
  description = "Kubernetes API endpoint: private always; public only when asked and only for the listed CIDRs."
  type = object({
    public_access       = optional(bool)
    public_access_cidrs = optional(list(string))
  })
  default = {}

  validation {
    condition     = !coalesce(var.endpoint.public_access, false) || var.environment != "prod"
    error_message = "prod's Kubernetes API endpoint is private only; reach it over VPN or from inside the VPC."
  }
}

variable "cluster_api_ingress_cidrs" {
  description = "Private networks (VPN, admin VPC) that may reach the private API endpoint on 443."
  type        = list(string)
  default     = []
}

variable "ssh_ingress_cidrs" {
  description = "Networks allowed to SSH to nodes; empty means none (use SSM Session Manager)."
  type        = list(string)
  default     = []
}

variable "extra_p2p_ports" {
  description = "Additional P2P ports per chain, e.g. Lighthouse QUIC 9001/udp (security-groups module)."
  type = list(object({
    chain     = string
    name      = string
    protocol  = string
    from_port = number
    to_port   = optional(number)
  }))
  default = []
}

variable "access_entries" {
  description = "Who may use the Kubernetes API (eks module access_entries)."
  type = map(object({
    principal_arn     = string
    type              = optional(string)
    kubernetes_groups = optional(list(string))
    policy_associations = optional(map(object({
      policy_arn = string
      access_scope = optional(object({
        type       = optional(string)
        namespaces = optional(list(string))
      }))
    })))
  }))
  default = {}

  validation {
    condition = alltrue(flatten([for e in values(var.access_entries) : [for p in values(coalesce(e.policy_associations, {})) :
      try(p.access_scope.type, "cluster") != "namespace" ? true :
    alltrue([for n in coalesce(p.access_scope.namespaces, []) : contains(["nodeops-system", "monitoring", "nodes-ethereum", "nodes-polygon", "nodes-solana"], n)])]]))
    error_message = "A namespace-scoped access policy may name only the namespaces the cluster chart creates: nodeops-system, monitoring, nodes-ethereum, nodes-polygon, nodes-solana."
  }
}

variable "node_groups" {
  description = "Node pools (node-groups module node_groups): system, gateway and chain pools."
  type = map(object({
    kind           = string
    chain          = optional(string)
    instance_types = list(string)
    capacity_type  = optional(string)
    ami_type       = optional(string)
    min_size       = number
    max_size       = number
    desired_size   = optional(number)
    root_volume = optional(object({
      size_gib   = optional(number)
      iops       = optional(number)
      throughput = optional(number)
    }))
    subnet_tier         = optional(string)
    subnet_indexes      = optional(list(number))
    labels              = optional(map(string))
    taints              = optional(list(object({ key = string, value = optional(string), effect = string })))
    max_unavailable     = optional(number)
    imds_hop_limit      = optional(number)
    detailed_monitoring = optional(bool)
    auto_repair         = optional(bool)
    bootstrap = optional(object({
      sysctls              = optional(map(string))
      nofile               = optional(number)
      memlock              = optional(number)
      instance_store_mount = optional(string)
    }))
  }))
}

variable "allow_spot" {
  description = "Allow SPOT node groups (dev only)."
  type        = bool
  default     = false

  validation {
    condition     = !var.allow_spot || var.environment == "dev"
    error_message = "SPOT capacity is for dev only; staging and prod run on-demand."
  }
}

variable "deletion_protection" {
  description = "Guard the cluster against destroy/replace, keep KMS keys 30 days after deletion, keep the log group."
  type        = bool
  default     = true

  validation {
    condition     = var.deletion_protection || var.environment != "prod"
    error_message = "prod must keep deletion protection on."
  }
}

variable "kms_deletion_window_in_days" {
  description = "KMS deletion window when deletion_protection is off."
  type        = number
  default     = 30
}

variable "zonal_shift" {
  description = "Enable ARC zonal shift for the cluster."
  type        = bool
  default     = false
}

variable "support_type" {
  description = "EKS version support policy (STANDARD or EXTENDED)."
  type        = string
  default     = "STANDARD"
}

variable "log_retention_in_days" {
  description = "Retention of the EKS control-plane logs."
  type        = number
  default     = 90
}

variable "snapshot_restore" {
  description = "Snapshot-restore IRSA role: the one bucket (and optional prefixes, KMS key, service accounts) chain pods may read snapshots from."
  type = object({
    enabled     = optional(bool)
    bucket_name = string
    prefixes    = optional(list(string))
    kms_key_arn = optional(string)
    service_accounts = optional(list(object({
      namespace = string
      name      = string
    })))
  })
}

variable "load_balancer_controller_policy_arn" {
  description = "ARN of the customer-managed AWS Load Balancer Controller policy (docs/deploy.md, step 3). Null: no controller role."
  type        = string
  default     = null
}

variable "gateway_certificate_arn" {
  description = "ACM certificate of the gateway's ALB listener, handed to the Helm layer as helm.acm_certificate_arn. Null: deploy.sh takes NODEOPS_ACM_CERTIFICATE_ARN."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags on every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

variable "gateway_edge" {
  description = "The gateway's public edge: WAF web ACL with a per-IP rate limit (requests per 5 minutes), and the client CIDRs the ALB admits (empty: anyone)."
  type = object({
    waf_enabled       = optional(bool, true)
    rate_limit_per_5m = optional(number, 6000)
    inbound_cidrs     = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = var.gateway_edge.waf_enabled || var.environment != "prod"
    error_message = "prod's public endpoint keeps its WAF web ACL (gateway_edge.waf_enabled)."
  }
  validation {
    condition     = var.gateway_edge.rate_limit_per_5m >= 10 && var.gateway_edge.rate_limit_per_5m <= 2000000000
    error_message = "gateway_edge.rate_limit_per_5m must be between 10 and 2e9 (the WAF bounds)."
  }
  validation {
    condition     = alltrue([for c in var.gateway_edge.inbound_cidrs : can(cidrhost(c, 0))])
    error_message = "gateway_edge.inbound_cidrs must be CIDRs."
  }
}

variable "loki_retention_days" {
  description = "Days Loki's chunks are kept in S3 (the bucket lifecycle)."
  type        = number
  default     = 30
}
