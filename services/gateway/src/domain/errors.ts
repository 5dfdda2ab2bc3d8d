/**
 * Errors the gateway answers itself, in the OpenAI shape
 * `{"error": {"message", "type", "param", "code"}}`, with the HTTP status and any extra headers
 * (`x-llm-d-request-dropped-reason` on shed or expired requests).
 */

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string | null;
  /** llm-d's reason header value for 429/503 answers of flow control. */
  readonly droppedReason: string | undefined;
  /** Why the request was refused, for the audit log and metric when it differs from `code`. */
  readonly auditReason: string;

  constructor(
    status: number,
    type: string,
    code: string,
    message: string,
    extra: { param?: string | null; droppedReason?: string; auditReason?: string } = {},
  ) {
    super(message);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = extra.param ?? null;
    this.droppedReason = extra.droppedReason;
    this.auditReason = extra.auditReason ?? extra.droppedReason ?? code;
  }

  body(): OpenAiErrorBody {
    return errorBody(this.message, this.type, this.code, this.param);
  }
}

export function errorBody(
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

export const errors = {
  badRequest: (message: string, param: string | null = null, code = "invalid_request") =>
    new GatewayError(400, "invalid_request_error", code, message, { param }),
  /**
   * A protected model called without a valid key gets exactly the answer of an unknown model
   * (decision: a caller without a key cannot tell which model names exist); the audit log and
   * metric still say `invalid_api_key`.
   */
  unauthorized: (model: string) =>
    new GatewayError(
      404,
      "invalid_request_error",
      "model_not_found",
      `The model "${model}" does not exist.`,
      {
        param: "model",
        auditReason: "invalid_api_key",
      },
    ),
  modelNotFound: (model: string) =>
    new GatewayError(
      404,
      "invalid_request_error",
      "model_not_found",
      `The model "${model}" does not exist.`,
      {
        param: "model",
      },
    ),
  tooManyConcurrent: () =>
    new GatewayError(
      429,
      "rate_limit_error",
      "too_many_concurrent_requests",
      "this client has the most concurrent requests the gateway allows; retry when one finishes",
    ),
  shed: (reason: string, message: string) =>
    new GatewayError(429, "rate_limit_error", reason, message, { droppedReason: reason }),
  noEndpoints: (model: string, detail: string, droppedReason = "rejected-no-endpoints") =>
    new GatewayError(
      503,
      "service_unavailable_error",
      "no_endpoints",
      `no endpoint can serve "${model}": ${detail}`,
      {
        droppedReason,
      },
    ),
  unavailable: (code: string, message: string) =>
    new GatewayError(503, "service_unavailable_error", code, message),
  upstream: (code: string, message: string) => new GatewayError(502, "upstream_error", code, message),
};
