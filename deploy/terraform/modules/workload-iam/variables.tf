variable "name" {
  description = "Name prefix for the roles (usually the cluster name)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name, for Pod Identity associations."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (eks module). Null disables IRSA trust."
  type        = string
  default     = null
}

variable "oidc_provider" {
  description = "OIDC issuer without scheme (eks module's oidc_provider): prefix of the :sub/:aud condition keys."
  type        = string
  default     = null
}

variable "enable_pod_identity" {
  description = "Also trust EKS Pod Identity and create an association per service account."
  type        = bool
  default     = false
}

variable "snapshot_restore" {
  description = <<-EOT
    Read-only access for the snapshot-restore init job of the chain pods: list and get objects under
    the given key prefixes of ONE bucket (and decrypt with its KMS key when it uses SSE-KMS), for the
    listed Kubernetes service accounts only. The gateway and the exporter need no AWS access and get
    no role. The default service accounts are the blockchain-node releases' own (<chain>-blue and
    <chain>-green in nodes-<chain>, see docs/deployments.md).
  EOT
  type = object({
    enabled     = optional(bool, true)
    bucket_name = string
    prefixes    = optional(list(string), [""])
    kms_key_arn = optional(string)
    service_accounts = optional(list(object({
      namespace = string
      name      = string
      })), [
      { namespace = "nodes-ethereum", name = "ethereum-blue" }, { namespace = "nodes-ethereum", name = "ethereum-green" },
      { namespace = "nodes-polygon", name = "polygon-blue" }, { namespace = "nodes-polygon", name = "polygon-green" },
      { namespace = "nodes-solana", name = "solana-blue" }, { namespace = "nodes-solana", name = "solana-green" },
    ])
  })

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.snapshot_restore.bucket_name))
    error_message = "snapshot_restore.bucket_name must be one S3 bucket name (no ARN, no wildcard)."
  }

  validation {
    condition     = alltrue([for p in var.snapshot_restore.prefixes : !strcontains(p, "*") && !strcontains(p, "?") && !startswith(p, "/")])
    error_message = "snapshot_restore.prefixes are literal key prefixes: no wildcards, no leading slash."
  }

  validation {
    condition = length(var.snapshot_restore.service_accounts) > 0 && alltrue([for sa in var.snapshot_restore.service_accounts :
      can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", sa.namespace)) && can(regex("^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$", sa.name))
    ])
    error_message = "snapshot_restore.service_accounts must name at least one service account, with literal Kubernetes names (no wildcards)."
  }

  validation {
    condition     = var.snapshot_restore.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", coalesce(var.snapshot_restore.kms_key_arn, "-")))
    error_message = "snapshot_restore.kms_key_arn must be a KMS key ARN (not an alias, not a wildcard)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "load_balancer_controller" {
  description = <<-EOT
    IRSA role for the AWS Load Balancer Controller (the ALB in front of the gateway). Its permissions
    are AWS's published controller policy, created once per account from the controller's
    docs/install/iam_policy.json (docs/deploy.md) and passed here as policy_arn.
  EOT
  type = object({
    enabled         = optional(bool, false)
    policy_arn      = optional(string)
    namespace       = optional(string, "kube-system")
    service_account = optional(string, "aws-load-balancer-controller")
  })
  default = {}

  validation {
    condition = !var.load_balancer_controller.enabled || can(regex(
      "^arn:aws[a-z-]*:iam::[0-9]{12}:policy/", coalesce(var.load_balancer_controller.policy_arn, "-")
    ))
    error_message = "load_balancer_controller.policy_arn must be the ARN of the customer-managed controller policy (not an AWS-managed admin policy)."
  }
}

variable "cluster_autoscaler" {
  description = "IRSA role of the Cluster Autoscaler: may resize only the Auto Scaling groups tagged k8s.io/cluster-autoscaler/<cluster_name>=owned."
  type = object({
    enabled         = optional(bool, false)
    namespace       = optional(string, "kube-system")
    service_account = optional(string, "cluster-autoscaler")
  })
  default = {}
}

variable "loki" {
  description = "Loki's S3 buckets (<bucket_prefix>-chunks and -ruler, private, encrypted, chunks expiring after retention_days) and the IRSA role of its service account."
  type = object({
    enabled         = optional(bool, false)
    bucket_prefix   = optional(string)
    retention_days  = optional(number, 30)
    kms_key_arn     = optional(string)
    namespace       = optional(string, "monitoring")
    service_account = optional(string, "loki")
  })
  default = {}

  validation {
    condition     = !var.loki.enabled || can(regex("^[a-z0-9][a-z0-9-]{2,48}$", coalesce(var.loki.bucket_prefix, "-")))
    error_message = "loki.bucket_prefix must be a valid S3 bucket name prefix (lowercase, digits, hyphens)."
  }
}
