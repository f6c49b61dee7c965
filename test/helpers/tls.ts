import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCertificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clients: Record<string, { cert: string; key: string }>;
}

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and one client certificate per CN, made with openssl. */
export function makeCertificates(dir: string, clientCns: string[]): TestCertificates {
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=panel-agent test CA", "-keyout", p("ca.key"), "-out", p("ca.crt"));
  writeFileSync(p("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  const issue = (name: string, cn: string, ext?: string) => {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`));
    ssl("x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", ...(ext ? ["-extfile", ext] : []), "-out", p(`${name}.crt`));
    return { cert: p(`${name}.crt`), key: p(`${name}.key`) };
  };
  const server = issue("server", "localhost", p("server.ext"));
  const clients = Object.fromEntries(clientCns.map((cn, i) => [cn, issue(`client${i}`, cn)]));
  return { ca: p("ca.crt"), serverCert: server.cert, serverKey: server.key, clients };
}
