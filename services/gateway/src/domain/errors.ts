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

  constructor(
    status: number,
    type: string,
    code: string,
    message: string,
    extra: { param?: string | null; droppedReason?: string } = {},
  ) {
    super(message);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = extra.param ?? null;
    this.droppedReason = extra.droppedReason;
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
  unauthorized: (model: string) =>
    new GatewayError(
      401,
      "authentication_error",
      "invalid_api_key",
      `missing or invalid API key for model "${model}"`,
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
