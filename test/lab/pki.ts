// A throwaway certificate authority per lab: the API server's serving certificate
// and one client certificate per identity (admin, controller manager, kube-proxy,
// each node), signed with openssl. EC P-256 keys keep this to a few dozen ms.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { exec } from "./exec.js";

export interface CertFiles {
  cert: string;
  key: string;
}

export interface ClientIdentity {
  /** Becomes the user name (CN). */
  user: string;
  /** Become the groups (O). */
  groups?: readonly string[];
}

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
`;

export class Pki {
  readonly caCert: string;
  private readonly caKey: string;
  private readonly config: string;

  private constructor(private readonly dir: string) {
    this.caCert = join(dir, "ca.crt");
    this.caKey = join(dir, "ca.key");
    this.config = join(dir, "openssl.cnf");
  }

  /** Creates the CA in `dir` (which must exist). */
  static async create(dir: string): Promise<Pki> {
    const pki = new Pki(dir);
    writeFileSync(pki.config, OPENSSL_CONFIG);
    await exec("openssl", [
      "req",
      "-x509",
      "-new",
      "-nodes",
      "-config",
      pki.config,
      "-extensions",
      "ca",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-keyout",
      pki.caKey,
      "-out",
      pki.caCert,
      "-subj",
      "/CN=herald-lab-ca",
      "-days",
      "30",
    ]);
    return pki;
  }

  /** A serving certificate for the given IP addresses and DNS names. */
  server(name: string, ips: readonly string[], dnsNames: readonly string[]): Promise<CertFiles> {
    const san = [...ips.map((ip) => `IP:${ip}`), ...dnsNames.map((d) => `DNS:${d}`)].join(",");
    return this.issue(name, `/CN=${name}`, `extendedKeyUsage = serverAuth\nsubjectAltName = ${san}\n`);
  }

  /** A client certificate; the API server reads the user from CN and the groups from O. */
  client(fileName: string, who: ClientIdentity): Promise<CertFiles> {
    const subject = [...(who.groups ?? []).map((g) => `/O=${g}`), `/CN=${who.user}`].join("");
    return this.issue(fileName, subject, "extendedKeyUsage = clientAuth\n");
  }

  /** A key pair for signing service account tokens (sec1 private key, SPKI public key). */
  serviceAccountKeys(): { privateKey: string; publicKey: string } {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const paths = { privateKey: join(this.dir, "sa.key"), publicKey: join(this.dir, "sa.pub") };
    writeFileSync(paths.privateKey, privateKey.export({ type: "sec1", format: "pem" }), { mode: 0o600 });
    writeFileSync(paths.publicKey, publicKey.export({ type: "spki", format: "pem" }));
    return paths;
  }

  private async issue(fileName: string, subject: string, extensions: string): Promise<CertFiles> {
    const key = join(this.dir, `${fileName}.key`);
    const cert = join(this.dir, `${fileName}.crt`);
    const csr = join(this.dir, `${fileName}.csr`);
    const ext = join(this.dir, `${fileName}.ext`);
    writeFileSync(
      ext,
      `basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n${extensions}`,
    );
    await exec("openssl", [
      "req",
      "-new",
      "-nodes",
      "-config",
      this.config,
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      subject,
    ]);
    await exec("openssl", [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      this.caCert,
      "-CAkey",
      this.caKey,
      // Random serials: certificates are issued concurrently, so no shared serial file.
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-out",
      cert,
      "-days",
      "30",
      "-extfile",
      ext,
    ]);
    return { cert, key };
  }
}
