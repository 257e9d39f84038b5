// Original file: protos/meshlens/v1/telemetry.proto


/**
 * Acknowledgement of a TelemetryReport.
 */
export interface TelemetryReportAck {
  /**
   * Entries (connections + routes + breakers) accepted.
   */
  'acceptedEntries'?: (number);
}

/**
 * Acknowledgement of a TelemetryReport.
 */
export interface TelemetryReportAck__Output {
  /**
   * Entries (connections + routes + breakers) accepted.
   */
  'acceptedEntries': (number);
}
