// Original file: protos/meshlens/v1/admin.proto


/**
 * GetCorrelatorState output.
 */
export interface CorrelatorState {
  /**
   * {"format":1,"lastEvaluated":<window index or null>,"endpoints":[...]}
   */
  'stateJson'?: (string);
}

/**
 * GetCorrelatorState output.
 */
export interface CorrelatorState__Output {
  /**
   * {"format":1,"lastEvaluated":<window index or null>,"endpoints":[...]}
   */
  'stateJson': (string);
}
