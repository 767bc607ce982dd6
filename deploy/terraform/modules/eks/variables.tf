variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-40 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane (e.g. 1.33)."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33."
  }
}

variable "support_type" {
  description = "EKS version support policy: STANDARD (default; the cluster is upgraded when standard support ends) or EXTENDED (keeps an old version, at six times the control-plane price)."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "EXTENDED"], var.support_type)
    error_message = "support_type must be STANDARD or EXTENDED."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "control_plane_subnet_ids" {
  description = "Subnets for the control plane's ENIs (the network module's intra subnets), in at least two AZs."
  type        = list(string)

  validation {
    condition     = length(var.control_plane_subnet_ids) >= 2
    error_message = "EKS needs control-plane subnets in at least two availability zones."
  }
}

variable "additional_security_group_ids" {
  description = "Security groups added to the control plane's ENIs (the security-groups module's cluster group)."
  type        = list(string)
  default     = []
}

variable "endpoint" {
  description = "Kubernetes API endpoint access. The private endpoint is always on; the public one is off unless asked, and then only for listed CIDRs (never 0.0.0.0/0)."
  type = object({
    public_access       = optional(bool, false)
    public_access_cidrs = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = !var.endpoint.public_access || length(var.endpoint.public_access_cidrs) > 0
    error_message = "A public endpoint needs an explicit public_access_cidrs allow-list."
  }

  validation {
    condition = alltrue([
      for c in var.endpoint.public_access_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 8
    ])
    error_message = "endpoint.public_access_cidrs must be IPv4 CIDRs no wider than /8; a world-open (0.0.0.0/0) Kubernetes API is refused."
  }

  validation {
    condition     = var.endpoint.public_access || length(var.endpoint.public_access_cidrs) == 0
    error_message = "endpoint.public_access_cidrs is set but public_access is false; remove the CIDRs or enable public access deliberately."
  }
}

variable "cluster_log_types" {
  description = "Control-plane log types sent to CloudWatch Logs. All five by default; audit is the one an incident needs."
  type        = list(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  validation {
    condition     = alltrue([for t in var.cluster_log_types : contains(["api", "audit", "authenticator", "controllerManager", "scheduler"], t)])
    error_message = "cluster_log_types may contain api, audit, authenticator, controllerManager and scheduler."
  }

  validation {
    condition     = contains(var.cluster_log_types, "audit")
    error_message = "The audit log must stay enabled."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the control-plane log group."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a CloudWatch Logs retention value (1 ... 3653)."
  }
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before a deleted KMS key (secrets/logs key and EBS key) is destroyed. 30 is the maximum and the safest."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30
    error_message = "kms_deletion_window_in_days must be between 7 and 30."
  }
}

variable "access_entries" {
  description = "EKS access entries (authentication mode API, no aws-auth ConfigMap): principal ARN, optional Kubernetes groups and access-policy associations scoped to the cluster or to namespaces."
  type = map(object({
    principal_arn     = string
    type              = optional(string, "STANDARD")
    kubernetes_groups = optional(list(string), [])
    policy_associations = optional(map(object({
      policy_arn = string
      access_scope = optional(object({
        type       = optional(string, "cluster")
        namespaces = optional(list(string), [])
      }), {})
    })), {})
  }))
  default = {}

  validation {
    condition     = alltrue([for e in var.access_entries : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", e.principal_arn))])
    error_message = "access_entries principal_arn must be an IAM role or user ARN."
  }

  validation {
    condition = alltrue(flatten([for e in var.access_entries : [
      for p in values(e.policy_associations) :
      contains(["cluster", "namespace"], p.access_scope.type) && (p.access_scope.type == "cluster" || length(p.access_scope.namespaces) > 0)
    ]]))
    error_message = "access_scope.type must be cluster or namespace, and a namespace scope must list namespaces."
  }
}

variable "enable_cluster_creator_admin" {
  description = "Give the identity running Terraform cluster-admin through an access entry. Off: admins come from access_entries, so access does not depend on who applied."
  type        = bool
  default     = false
}

variable "enable_irsa" {
  description = "Create the IAM OIDC provider for IAM Roles for Service Accounts (IRSA)."
  type        = bool
  default     = true
}

variable "oidc_thumbprints" {
  description = "Thumbprints for the OIDC provider. IAM no longer checks them for EKS issuers; the default is the well-known root CA thumbprint, so no tls provider is needed."
  type        = list(string)
  default     = ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
}

variable "enable_pod_identity" {
  description = "Install the EKS Pod Identity agent and let the EBS CSI driver (and workload roles) use Pod Identity associations."
  type        = bool
  default     = true
}

variable "addons" {
  description = "EKS managed add-ons. version null = the default version for the cluster's Kubernetes version. before_compute add-ons are installed before node groups exist (the VPC CNI must be, or nodes never become Ready)."
  type = map(object({
    version              = optional(string)
    configuration_values = optional(string)
    before_compute       = optional(bool, false)
  }))
  default = {
    # enableNetworkPolicy: the VPC CNI enforces NetworkPolicy only with it; without it every
    # NetworkPolicy the charts create is accepted and ignored.
    vpc-cni            = { before_compute = true, configuration_values = "{\"enableNetworkPolicy\":\"true\"}" }
    kube-proxy         = { before_compute = true }
    coredns            = {}
    aws-ebs-csi-driver = {}
  }

  validation {
    condition     = alltrue([for a in ["vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"] : contains(keys(var.addons), a)])
    error_message = "addons must include vpc-cni, kube-proxy, coredns and aws-ebs-csi-driver (self-managed add-ons are not bootstrapped)."
  }

  validation {
    condition     = try(jsondecode(var.addons["vpc-cni"].configuration_values).enableNetworkPolicy == "true", false)
    error_message = "vpc-cni needs configuration_values with enableNetworkPolicy = \"true\": NetworkPolicies are not enforced without it."
  }
}

variable "compute_ready" {
  description = "IDs of the node groups (from the node-groups module). Add-ons that need running nodes (coredns, EBS CSI) wait for them."
  type        = list(string)
  default     = []
}

variable "zonal_shift" {
  description = "Enable ARC zonal shift so traffic can be moved away from an impaired AZ."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to destroy or replace the cluster from Terraform (a prevent_destroy guard tied to the cluster ARN); KMS keys keep the longest deletion window and the log group survives destroy. Turn off only in throw-away environments."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
