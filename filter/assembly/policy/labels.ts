// Label vocabulary shared by every bounded dimension.

// A value that was present but unusable (missing header, invalid characters, too long).
export const UNKNOWN_LABEL = "unknown";
// A valid value that was folded because a cardinality cap or an allow-list excluded it.
export const OVERFLOW_LABEL = "~other";
