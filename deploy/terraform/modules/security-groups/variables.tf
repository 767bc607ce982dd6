variable "name" {
  description = "Name prefix for the security groups (usually the cluster name)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name for the node security group's discovery tags (kubernetes.io/cluster/<name>, karpenter.sh/discovery)."
  type        = string
}

variable "vpc_id" {
  description = "VPC the security groups belong to."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR: the default (and only recommended) source for RPC and metrics ingress."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR."
  }
}

variable "chains" {
  description = "Chains that get a P2P security group (attached only to that chain's node group)."
  type        = list(string)
  default     = ["ethereum", "polygon", "solana"]

  validation {
    condition     = alltrue([for c in var.chains : contains(["ethereum", "polygon", "solana"], c)])
    error_message = "chains may only contain ethereum, polygon and solana."
  }
}

variable "p2p_ingress_cidrs" {
  description = "IPv4 sources allowed to reach the chains' P2P ports. Peers come from anywhere, so this is the one place 0.0.0.0/0 is expected; only P2P ports are ever opened to it."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.p2p_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "p2p_ingress_cidrs must be valid IPv4 CIDRs."
  }
}

variable "extra_p2p_ports" {
  description = "Additional P2P ports per chain (e.g. Lighthouse QUIC 9001/udp, Prysm 13000/tcp + 12000/udp). Admin, RPC and control-plane ports are refused."
  type = list(object({
    chain     = string
    name      = string
    protocol  = string
    from_port = number
    to_port   = optional(number)
  }))
  default = []

  validation {
    condition     = alltrue([for p in var.extra_p2p_ports : contains(["ethereum", "polygon", "solana"], p.chain) && contains(["tcp", "udp"], p.protocol)])
    error_message = "extra_p2p_ports: chain must be ethereum, polygon or solana and protocol tcp or udp."
  }

  validation {
    condition = alltrue([
      for p in var.extra_p2p_ports : p.from_port >= 1024 && coalesce(p.to_port, p.from_port) >= p.from_port && coalesce(p.to_port, p.from_port) <= 65535
    ])
    error_message = "extra_p2p_ports must be ranges inside 1024-65535 with from_port <= to_port (privileged ports are never P2P)."
  }

  validation {
    condition = alltrue(flatten([
      for p in var.extra_p2p_ports : [
        for a in [2379, 2380, 3389, 5052, 6443, 8080, 8545, 8546, 8551, 8899, 8900, 9090, 9100, 10250, 10255, 1317, 26657, 6060] :
        a < p.from_port || a > coalesce(p.to_port, p.from_port)
      ]
    ]))
    error_message = "extra_p2p_ports must not include admin, RPC, metrics or control-plane ports (e.g. 3389, 6443, 8545, 8551, 9100, 10250): those are never opened to the internet."
  }
}

variable "rpc_ingress_cidrs" {
  description = "Sources allowed to reach node RPC and metrics ports on the nodes besides the cluster itself. Empty (default) means the VPC CIDR. World-open ranges are refused; public RPC goes through the gateway's load balancer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.rpc_ingress_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 8])
    error_message = "rpc_ingress_cidrs must be IPv4 CIDRs no wider than /8 (0.0.0.0/0 is never allowed for RPC or metrics)."
  }
}

variable "ssh_ingress_cidrs" {
  description = "Sources allowed to SSH to nodes. Empty (default): no SSH at all, use SSM Session Manager. World-open ranges are refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.ssh_ingress_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 16])
    error_message = "ssh_ingress_cidrs must be IPv4 CIDRs no wider than /16; 0.0.0.0/0 to SSH is never allowed."
  }
}

variable "cluster_api_ingress_cidrs" {
  description = "Extra private networks (VPN, peered admin VPC) allowed to reach the private Kubernetes API endpoint on 443. World-open ranges are refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.cluster_api_ingress_cidrs : can(cidrhost(c, 0)) && tonumber(split("/", c)[1]) >= 8])
    error_message = "cluster_api_ingress_cidrs must be IPv4 CIDRs no wider than /8; the Kubernetes API is never open to 0.0.0.0/0."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
