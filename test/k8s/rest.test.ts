// The JSON client against a local HTTP server: what a DELETE with options sends, and what an
// error answer that is not a Status still tells.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { restFromKubeConfig } from "../../src/k8s/rest.js";

let server: Server;
let answer: (req: IncomingMessage, body: string) => { status: number; type: string; text: string };
const seen: { method: string; headers: IncomingMessage["headers"]; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", headers: req.headers, body });
      const a = answer(req, body);
      res.writeHead(a.status, { "Content-Type": a.type });
      res.end(a.text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const rest = () =>
  restFromKubeConfig(
    { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, insecureSkipTLSVerify: false },
    5000,
  );

test("a DELETE with options sends them as a framed JSON body", async () => {
  seen.length = 0;
  answer = () => ({ status: 200, type: "application/json", text: '{"kind":"Status","status":"Success"}' });
  await rest().request("DELETE", "/apis/x/v1/namespaces/ns/things/a", {
    apiVersion: "v1",
    kind: "DeleteOptions",
    preconditions: { resourceVersion: "42" },
  });
  const [req] = seen;
  expect(req?.method).toBe("DELETE");
  expect(req?.headers["content-type"]).toBe("application/json");
  expect(Number(req?.headers["content-length"])).toBe(Buffer.byteLength(req?.body ?? ""));
  expect(JSON.parse(req?.body ?? "")).toEqual({
    apiVersion: "v1",
    kind: "DeleteOptions",
    preconditions: { resourceVersion: "42" },
  });
});

test("an error answer that is not a Status keeps its text in the error", async () => {
  answer = () => ({ status: 400, type: "text/plain; charset=utf-8", text: "400 Bad Request: malformed\n" });
  await expect(rest().request("DELETE", "/x", { kind: "DeleteOptions" })).rejects.toMatchObject({
    status: 400,
    message: "DELETE /x: 400 400 Bad Request: malformed",
  });
  answer = () => ({
    status: 409,
    type: "application/json",
    text: '{"kind":"Status","reason":"Conflict","message":"the object has been modified"}',
  });
  await expect(rest().request("PUT", "/y", {})).rejects.toMatchObject({
    status: 409,
    reason: "Conflict",
    message: "PUT /y: 409 Conflict the object has been modified",
  });
});
