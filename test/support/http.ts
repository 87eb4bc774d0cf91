/** Small JSON-over-HTTP helpers for end-to-end tests (real sockets, global fetch). */

export type JsonResponse<T = Record<string, unknown>> = Readonly<{
  status: number;
  headers: Headers;
  body: T;
}>;

export async function request<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text === '' ? {} : JSON.parse(text)) as T,
  };
}

export const post = <T = Record<string, unknown>>(
  base: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => request<T>(base, 'POST', path, body ?? {}, headers);

export const get = <T = Record<string, unknown>>(
  base: string,
  path: string,
  headers?: Record<string, string>,
) => request<T>(base, 'GET', path, undefined, headers);
