// Label vocabulary shared by every bounded dimension.

// A value that was present but unusable (missing header, invalid characters, too long).
export const UNKNOWN_LABEL = "unknown";
// A valid value that was folded because a cardinality cap or an allow-list excluded it.
export const OVERFLOW_LABEL = "~other";

// Istio's value for a dimension it cannot determine (istio/proxy istio_stats.cc, context_.unknown_).
export const ISTIO_UNKNOWN_LABEL = "unknown";

// The service an Istio cluster name routes to, named as istio_requests_total names it: destination_service is the
// host of "outbound|<port>|<subset>|<host>", destination_service_name and destination_service_namespace the first
// two labels of a Kubernetes service host "<name>.<namespace>.svc.<domain>". Istio reads them from the cluster's
// istio metadata (istio/proxy 1.28 source/extensions/filters/http/istio_stats/istio_stats.cc), which pilot fills
// from the same service, so the derived values join; a cluster that is not in that form (BlackHoleCluster,
// PassthroughCluster, a bootstrap cluster) is its own service name there too. Derived from the cluster alone, so
// they add no series.
export class DestinationService {
  constructor(public readonly host: string, public readonly name: string, public readonly namespace: string) {}
}

export function destinationServiceOf(cluster: string): DestinationService {
  if (cluster == OVERFLOW_LABEL || cluster == UNKNOWN_LABEL) return new DestinationService(cluster, cluster, cluster);
  const parts = cluster.split("|");
  if (parts.length != 4 || (parts[0] != "outbound" && parts[0] != "inbound")) {
    return new DestinationService(cluster, cluster, ISTIO_UNKNOWN_LABEL);
  }
  const host = parts[3];
  if (host.length == 0) return new DestinationService(ISTIO_UNKNOWN_LABEL, ISTIO_UNKNOWN_LABEL, ISTIO_UNKNOWN_LABEL);
  const labels = host.split(".");
  if (labels.length >= 3 && labels[2] == "svc" && labels[0].length > 0 && labels[1].length > 0) {
    return new DestinationService(host, labels[0], labels[1]);
  }
  return new DestinationService(host, host, ISTIO_UNKNOWN_LABEL);
}
