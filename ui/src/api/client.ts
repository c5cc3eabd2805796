import { OPERATIONS, type OperationName } from "./operations";
import { getToken } from "./session";

/** What went wrong, in words an analyst can act on (the API's own message when it gave one). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
    readonly codes: string[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
  get unauthorised(): boolean {
    return this.status === 401;
  }
}

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string };
}

export function explainErrors(errors: GraphQLErrorBody[]): ApiError {
  const codes = errors.map((e) => e.extensions?.code ?? "ERROR");
  const message = errors.map((e) => (e.extensions?.code ? `${e.extensions.code}: ${e.message}` : e.message));
  return new ApiError(message.join("; "), 200, codes);
}

export async function gql<T>(
  operation: OperationName,
  variables: Record<string, unknown> = {},
  token: string | null = getToken(),
): Promise<T> {
  const query = OPERATIONS.get(operation);
  if (!query) throw new ApiError(`the console has no operation named ${operation}`);
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query, operationName: operation, variables }),
    });
  } catch (err) {
    throw new ApiError(`the API did not answer (${String(err)})`);
  }
  if (response.status === 401) throw new ApiError("the API refused this token (unknown or revoked)", 401);
  const text = await response.text();
  let body: { data?: T; errors?: GraphQLErrorBody[]; detail?: string };
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`HTTP ${response.status}: ${text.slice(0, 300)}`, response.status);
  }
  if (body.errors?.length) throw explainErrors(body.errors);
  if (!response.ok || body.data === undefined) {
    throw new ApiError(`HTTP ${response.status}: ${body.detail ?? text.slice(0, 300)}`, response.status);
  }
  return body.data as T;
}
