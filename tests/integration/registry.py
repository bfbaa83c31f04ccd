# SPDX-License-Identifier: Apache-2.0
"""Registries for the image tests, all on 127.0.0.1 and offline.

- Registry: Debian's docker-registry (distribution 2.8) with filesystem storage in a temp dir, at a free
  port, plain HTTP; its access log (stdout) tells which requests a client made.
- TokenAuthRegistry: the same with `auth.token`, and TokenServer, a small token service that checks Basic
  credentials (or an OAuth2 password/refresh-token POST) and issues RS256 JWTs for the scopes asked,
  signed by a throwaway key whose self-signed certificate is the registry's rootcertbundle.
- BasicAuthRegistry: docker-registry with `auth.htpasswd` (bcrypt hashes from libc's crypt()).
- FakeRegistry: a Python server that serves images from the built OCI layouts and can misbehave on
  demand: wrong bytes for a blob, truncated bodies, errors or resets for the first N requests, stalls.
  It also serves manifests a real registry will not store (Docker schema 1).
- ClosedPort: an address where nothing listens (a mirror that is down).

Plus writers for the files the daemon reads: registries.conf, policy.json, auth.json.
"""

import base64
import contextlib
import datetime
import hashlib
import http.server
import json
import os
import re
import secrets
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))
import build as images  # noqa: E402  (tests/images/build.py)

DOCKER_REGISTRY = os.environ.get("CRIO_TEST_DOCKER_REGISTRY", "/usr/bin/docker-registry")
START_TIMEOUT = 10.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url, timeout=2.0, headers=None, context=None):
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout,
                                    context=context) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, urllib.error.URLError):
        return None


class AccessEntry:
    def __init__(self, method, path, status):
        self.method, self.path, self.status = method, path, status

    def __repr__(self):
        return f"{self.method} {self.path} {self.status}"


_ACCESS_RX = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


class AccessLog:
    """Request bookkeeping shared by the real and the fake registries."""

    def entries(self):
        raise NotImplementedError

    def mark(self):
        """A position in the log; pass it as `since` to look only at later requests."""
        return len(self.entries())

    def requests(self, method=None, path=None, since=0, status=None):
        """Entries after `since` whose method equals and path matches (regex search)."""
        return [e for e in self.entries()[since:]
                if (method is None or e.method == method) and (path is None or re.search(path, e.path))
                and (status is None or e.status == status)]

    def blob_gets(self, repo=None, digest=None, since=0):
        """Successful or not, GETs of blobs (of one repository / one digest)."""
        rx = r"^/v2/" + (re.escape(repo) if repo else r".+") + r"/blobs/" + (re.escape(digest) if digest else "")
        return self.requests("GET", rx, since)

    def manifest_gets(self, repo=None, since=0):
        rx = r"^/v2/" + (re.escape(repo) if repo else r".+") + r"/manifests/"
        return self.requests("GET", rx, since)


# ---------------------------------------------------------------------------------------------------------
# docker-registry


class Registry(AccessLog):
    """Debian's docker-registry on 127.0.0.1 with storage in `workdir`. Plain HTTP unless `tls` is given as
    (certificate path, key path)."""

    def __init__(self, workdir=None, *, tls=None, client_ca=None, name="registry"):
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="crio-c-registry-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.tls = tls
        self.client_ca = client_ca
        self.client_cert = None  # (cert, key) the pusher presents when client_ca is set
        self.port = None
        self.proc = None
        self.scheme = "https" if tls else "http"

    @property
    def host(self):
        """host:port, as image references spell it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{self.scheme}://{self.host}"

    def auth_config(self):
        """The `auth:` section of config.yml; none for an open registry."""
        return ""

    def config_yaml(self):
        tls = ""
        if self.tls:
            tls = f"\n  tls:\n    certificate: {self.tls[0]}\n    key: {self.tls[1]}"
            if self.client_ca:
                tls += f"\n    clientcas:\n      - {self.client_ca}"
        return f"""version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {self.workdir / 'data'}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{self.port}
  secret: crio-c-test-secret{tls}
{self.auth_config()}"""

    def start(self):
        for _ in range(5):  # another process may take the free port between our probe and the bind
            self.port = free_port()
            cfg = self.workdir / "config.yml"
            cfg.write_text(self.config_yaml())
            self.stdout_path = self.workdir / "access.log"  # the access log goes to stdout
            self.stderr_path = self.workdir / "registry.log"
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen([DOCKER_REGISTRY, "serve", str(cfg)], stdout=out, stderr=err,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            if self._wait_up():
                return self
            self.stop()
        raise RuntimeError(f"docker-registry did not start; its log:\n{self.log_tail()}")

    def _wait_up(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.ping() is not None:
                return True
            time.sleep(0.02)
        return False

    def ping(self):
        """Status of GET /v2/ (200 open, 401 with auth), None if it does not answer."""
        return http_status(self.url + "/v2/", context=self._context())

    def _context(self):
        if not self.tls:
            return None
        ctx = _insecure_context()
        if self.client_cert:
            ctx.load_cert_chain(*self.client_cert)
        return ctx

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def remove_data(self):
        """Delete the stored images (the logs stay)."""
        shutil.rmtree(self.workdir / "data", ignore_errors=True)

    def cleanup(self):
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def entries(self):
        try:
            text = self.stdout_path.read_text(errors="replace")
        except OSError:
            return []
        return [AccessEntry(m.group(1), m.group(2), int(m.group(3))) for m in _ACCESS_RX.finditer(text)]

    # -- content ---------------------------------------------------------------------------------------

    def pusher(self):
        return images.Pusher(self.host, scheme=self.scheme, context=self._context())

    def push(self, catalog, repos=None, as_repo=None, tags=None):
        """Push layouts of the catalog (all repositories, or those named) here."""
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(self.pusher().push_repo, catalog, repo, as_repo=as_repo, tags=tags)
                    for repo in repos or catalog.repos()]
            for j in jobs:
                j.result()
        return self

    def delete_manifest(self, repo, digest):
        p = self.pusher()
        p.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=f"repository:{repo}:*")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def _insecure_context():
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------------------------------------------------
# Keys and certificates


def make_cert(workdir, common_name="crio-c-test", san_ip="127.0.0.1", ca=None, is_ca=False):
    """A throwaway RSA key and certificate (self-signed, or signed by `ca` = (cert, key) objects).
    Returns (cert path, key path, cert object, key object)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.utcnow()
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(ca[0].subject if ca else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30)))
    if is_ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if san_ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]),
                                        critical=False)
    cert = builder.sign(ca[1] if ca else key, hashes.SHA256())
    workdir = Path(workdir)
    cert_path, key_path = workdir / f"{common_name}.crt", workdir / f"{common_name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert, key


class TestPKI:
    """A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, as PEM files in
    `workdir`: ca_cert; server_cert, server_key; client_cert, client_key."""

    def __init__(self, workdir):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca_cert, self.ca_key, ca, ca_key = make_cert(workdir, "crio-c-test-ca", san_ip=None, is_ca=True)
        self.server_cert, self.server_key, _, _ = make_cert(workdir, "crio-c-test-server", ca=(ca, ca_key))
        self.client_cert, self.client_key, _, _ = make_cert(workdir, "crio-c-test-client", san_ip=None,
                                                            ca=(ca, ca_key))


CERTS_D = Path("/etc/containers/certs.d")


@contextlib.contextmanager
def certs_d(host, ca=None, client=None):
    """/etc/containers/certs.d/HOST/ with ca.crt and client.cert/client.key (the daemon has no option to
    look elsewhere); removed afterwards. Ports make HOST unique to the test."""
    d = CERTS_D / host
    assert not d.exists(), f"{d} exists already"
    d.mkdir(parents=True)
    try:
        if ca:
            shutil.copy(ca, d / "ca.crt")
        if client:
            shutil.copy(client[0], d / "client.cert")
            shutil.copy(client[1], d / "client.key")
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(public_key):
    """The key ID docker's libtrust derives from a public key (distribution matches JWT `kid` to it)."""
    from cryptography.hazmat.primitives import serialization
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(b32[i:i + 4] for i in range(0, 48, 4))


# ---------------------------------------------------------------------------------------------------------
# Token service


class TokenServer:
    """A Docker token service (https://distribution.github.io/distribution/spec/auth/token/) on 127.0.0.1.

    GET /token?service=S&scope=repository:NAME:ACTIONS (scope may repeat) with optional Basic credentials,
    and POST /token (OAuth2: grant_type=password with username/password, or grant_type=refresh_token with an
    identity token). Known users get every action they ask for on every repository (or on `repos` when
    given); anonymous callers get a token with no access unless `anonymous_pull`; wrong credentials get 401.
    Every request is recorded in `self.log` as a dict (user, scopes, granted, method, status)."""

    def __init__(self, workdir, users=None, service="crio-c-test-registry", issuer="crio-c-test-issuer",
                 anonymous_pull=False, repos=None):
        self.workdir = Path(workdir)
        self.users = dict(users or {"user": "pass"})
        self.service, self.issuer = service, issuer
        self.anonymous_pull = anonymous_pull
        self.repos = repos
        self.refresh_tokens = {}  # identity token -> user
        self.log = []
        self.cert_path, self.key_path, self.cert, self.key = make_cert(self.workdir, "token-signer", san_ip=None)
        self.server = None

    @property
    def realm(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def identity_token(self, user):
        """A refresh token (docker's "identity token") standing for `user`."""
        tok = "idt-" + secrets.token_hex(16)
        self.refresh_tokens[tok] = user
        return tok

    def issue(self, user, scopes, expires_in=300):
        """A signed JWT granting `user` (None: anonymous) what the scopes ask for, as policy allows."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        access = []
        for scope in scopes:
            typ, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if typ != "repository" or not name:
                continue
            wanted = [a for a in actions.split(",") if a]
            if user is None:
                granted = ["pull"] if self.anonymous_pull and "pull" in wanted else []
            elif self.repos is not None and name not in self.repos:
                granted = []
            else:
                granted = wanted
            access.append({"type": typ, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + expires_in,
                  "nbf": now - 30, "iat": now, "jti": secrets.token_hex(8), "access": access}
        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()],
                  "kid": libtrust_key_id(self.key.public_key())}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(sig), access

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status, body, user=None, scopes=(), granted=None):
                owner.log.append({"method": self.command, "path": self.path, "user": user, "scopes": list(scopes),
                                  "granted": granted, "status": status})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="crio-c-test-token"')
                self.end_headers()
                self.wfile.write(data)

            def _grant(self, user, scopes, refresh=None):
                token, access = owner.issue(user, scopes)
                body = {"token": token, "access_token": token, "expires_in": 300,
                        "issued_at": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
                if refresh:
                    body["refresh_token"] = refresh
                self._answer(200, body, user, scopes, access)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(url.query)
                scopes = [s for v in q.get("scope", []) for s in v.split(" ")]
                user = None
                auth = self.headers.get("Authorization", "")
                if auth.lower().startswith("basic "):
                    try:
                        u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    except ValueError:
                        return self._answer(400, {"errors": "bad Authorization header"})
                    if owner.users.get(u) != p:
                        return self._answer(401, {"details": "invalid username or password"}, u, scopes)
                    user = u
                if q.get("service", [owner.service])[0] != owner.service:
                    return self._answer(400, {"details": "unknown service"}, user, scopes)
                self._grant(user, scopes)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                get = lambda k: form.get(k, [""])[0]  # noqa: E731
                scopes = [s for v in form.get("scope", []) for s in v.split(" ")]
                grant = get("grant_type")
                if grant == "password":
                    if owner.users.get(get("username")) != get("password"):
                        return self._answer(401, {"details": "invalid username or password"}, get("username"),
                                            scopes)
                    refresh = owner.identity_token(get("username")) if get("access_type") == "offline" else None
                    return self._grant(get("username"), scopes, refresh)
                if grant == "refresh_token":
                    user = owner.refresh_tokens.get(get("refresh_token"))
                    if user is None:
                        return self._answer(401, {"details": "invalid refresh token"}, None, scopes)
                    return self._grant(user, scopes)
                self._answer(400, {"details": f"unsupported grant_type {grant!r}"}, None, scopes)

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def requests(self, user=None, status=None):
        return [r for r in self.log
                if (user is None or r["user"] == user) and (status is None or r["status"] == status)]


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class TokenAuthRegistry(Registry):
    """docker-registry requiring Bearer tokens from a TokenServer (`self.tokens`). Users: {"user": "pass"}
    unless given. Push goes through the token flow with the first user's credentials."""

    def __init__(self, workdir=None, users=None, anonymous_pull=False, **kw):
        super().__init__(workdir, **kw)
        self.tokens = TokenServer(self.workdir, users=users, anonymous_pull=anonymous_pull)
        self.username, self.password = next(iter(self.tokens.users.items()))

    def auth_config(self):
        return f"""auth:
  token:
    realm: {self.tokens.realm}
    service: {self.tokens.service}
    issuer: {self.tokens.issuer}
    rootcertbundle: {self.tokens.cert_path}
"""

    def start(self):
        self.tokens.start()
        return super().start()

    def stop(self):
        super().stop()
        self.tokens.stop()

    def pusher(self):
        return images.Pusher(self.host, self.username, self.password, scheme=self.scheme, context=self._context())

    def token(self, repo, actions="pull", user=None):
        """A registry token for repository:REPO:ACTIONS issued to `user` (default the first user)."""
        tok, _ = self.tokens.issue(user or self.username, [f"repository:{repo}:{actions}"])
        return tok


def bcrypt_hash(password):
    """A bcrypt hash from libc's crypt() (libxcrypt), or None when it cannot make one."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # cost 4: quick
    except Exception:  # noqa: BLE001 - no crypt module or no bcrypt support
        return None
    if not h or not h.startswith("$2"):
        return None
    return "$2a$" + h[4:] if h.startswith("$2b$") else h  # same algorithm; older Go bcrypt knows 2a best


class BasicAuthRegistry(Registry):
    """docker-registry with htpasswd (bcrypt) Basic authentication. Users: {"user": "pass"} unless given."""

    def __init__(self, workdir=None, users=None, **kw):
        super().__init__(workdir, **kw)
        self.users = dict(users or {"user": "pass"})
        self.username, self.password = next(iter(self.users.items()))
        lines = []
        for u, p in self.users.items():
            h = bcrypt_hash(p)
            if h is None:
                raise RuntimeError("cannot make bcrypt hashes (no crypt module with bcrypt support)")
            lines.append(f"{u}:{h}")
        self.htpasswd = self.workdir / "htpasswd"
        self.htpasswd.write_text("\n".join(lines) + "\n")

    def auth_config(self):
        return f"""auth:
  htpasswd:
    realm: crio-c-test
    path: {self.htpasswd}
"""

    def pusher(self):
        return images.Pusher(self.host, self.username, self.password, scheme=self.scheme, context=self._context())


# ---------------------------------------------------------------------------------------------------------
# Fake registry with faults


class FakeRegistry(AccessLog):
    """A distribution-API server in Python serving the built images (read-only, no auth), with faults.

    Faults (attributes, change them any time; digests are "sha256:..." strings):
      fail_first, fail_status   the first `fail_first` requests under /v2/ answer `fail_status` (503)
      reset_first               the next `reset_first` requests get the connection closed without an answer
      fault_path                regex: fail_first and reset_first count only requests whose path matches
      corrupt                   set of blob digests served with wrong bytes of the right length (see
                                corrupt()); "layers" corrupts every layer blob
      truncate                  set of blob digests (or "layers") whose body stops halfway, then the
                                connection closes (Content-Length announces the full size)
      stall                     regex; matching request paths get no answer until release() or stop(),
                                then are served normally
      stall_after               bytes of the body sent before a stall (0: stall before the headers)
    Observations: `stalled` (an Event: some request is being held), `disconnected` (an Event: a client
    hung up on a held request) and `disconnects` (how many did), `holding` and `max_holding` (requests
    held now, and at most at once), besides the access log.
      manifest_override         {(repo, ref): (media type, body)}: serve this instead
      missing                   set of digests answered 404
      redirect_blobs            a base URL ("http://host:port"): blob GETs answer 307 to base + path
      cut_first, cut_mode       the first `cut_first` blob GETs (matching fault_path, if set) send half their
                                body, then the connection is closed ("truncate") or reset ("reset")
    Blob GETs honour "Range: bytes=N-" with 206; `ranges` lists (path, N) of those asked for, and
    `served` the body bytes sent per blob digest.
    """

    def __init__(self, catalog, repos=None, tls=None):
        self.catalog = catalog
        self.manifests = {}  # (repo, ref) -> (media type, body)
        self.blobs = {}  # (repo, digest) -> path
        self.tls = tls
        for repo in repos or catalog.repos():
            self.add_repo(repo)
        self.fail_first = 0
        self.fail_status = 503
        self.reset_first = 0
        self.fault_path = None
        self.corrupt = set()
        self.truncate = set()
        self.stall = None
        self.stall_after = 0
        self.manifest_override = {}
        self.missing = set()
        self.redirect_blobs = None
        self.cut_first = 0
        self.cut_mode = "truncate"
        self.ranges = []
        self.served = {}
        self.released = threading.Event()
        self._log = []
        self._lock = threading.Lock()
        self.server = None
        self.stalled = threading.Event()  # set once a request is stalled (the test knows the pull is stuck)
        self.disconnected = threading.Event()  # set when a client hangs up on a stalled request
        self.disconnects = 0
        self.holding = 0  # requests being held right now
        self.max_holding = 0  # the most held at once

    def add_repo(self, repo, as_repo=None):
        dest = as_repo or repo
        for tag, desc in self.catalog.tags(repo):
            for digest, mt in self.catalog.blobs_of(repo, desc["digest"]):
                if mt in images.MANIFEST_TYPES:
                    self.manifests[(dest, digest)] = (mt, self.catalog.blob(repo, digest))
                else:
                    self.blobs[(dest, digest)] = self.catalog.blob_path(repo, digest)
            self.manifests[(dest, tag)] = (desc["mediaType"], self.catalog.blob(repo, desc["digest"]))

    def add_manifest(self, repo, ref, body, media_type, by_digest=True):
        self.manifests[(repo, ref)] = (media_type, body)
        if by_digest:
            self.manifests[(repo, images.sha256_digest(body))] = (media_type, body)

    def add_blob(self, repo, digest, path):
        self.blobs[(repo, digest)] = Path(path)

    def add_image(self, repo, tag, layer_tars, workdir, compression="gzip"):
        """Serve a new image made of the given uncompressed layer tars (bytes); returns (manifest
        digest, layer digests, image ID). Blobs are written to `workdir`."""
        workdir = Path(workdir)
        layers = []
        for tar in layer_tars:
            blob = images.compress(tar, compression)
            digest = images.sha256_digest(blob)
            (workdir / digest[7:]).write_bytes(blob)
            self.add_blob(repo, digest, workdir / digest[7:])
            layers.append({"mediaType": images.MT_OCI_LAYER_GZIP if compression == "gzip" else images.MT_OCI_LAYER_TAR,
                           "digest": digest, "size": len(blob)})
        config = images.canonical_json({
            "architecture": images.go_arch(), "os": "linux", "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [images.sha256_digest(t) for t in layer_tars]}})
        cdigest = images.sha256_digest(config)
        (workdir / cdigest[7:]).write_bytes(config)
        self.add_blob(repo, cdigest, workdir / cdigest[7:])
        manifest = images.canonical_json({"schemaVersion": 2, "mediaType": images.MT_OCI_MANIFEST, "layers": layers,
                                          "config": {"mediaType": images.MT_OCI_CONFIG, "digest": cdigest,
                                                     "size": len(config)}})
        self.add_manifest(repo, tag, manifest, images.MT_OCI_MANIFEST)
        return images.sha256_digest(manifest), [layer["digest"] for layer in layers], cdigest[7:]

    def add_schema1(self):
        """Serve schema1:latest (a Docker schema 1 manifest) and its layer."""
        e = self.catalog["schema1:latest"]
        self.add_manifest("schema1", "latest", self.catalog.extra(e["extra"]), images.MT_DOCKER_SCHEMA1)
        for d in e["layers"]:
            self.add_blob("schema1", d, self.catalog.blob_path(e["blob_repo"], d))

    @property
    def host(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def entries(self):
        with self._lock:
            return list(self._log)

    def _record(self, method, path, status):
        with self._lock:
            self._log.append(AccessEntry(method, path, status))

    def _take(self, attr):
        with self._lock:
            n = getattr(self, attr)
            if n > 0:
                setattr(self, attr, n - 1)
                return True
            return False

    def release(self):
        self.released.set()

    def _count(self, digest, n):
        with self._lock:
            self.served[digest] = self.served.get(digest, 0) + n

    def _disconnected(self):
        with self._lock:
            self.disconnects += 1
        self.disconnected.set()

    def _faulty(self, which, repo, digest):
        s = getattr(self, which)
        if s == "layers":
            return digest in self._layer_digests(repo)
        return digest in s

    def _layer_digests(self, repo):
        out = set()
        for (r, _), (mt, body) in self.manifests.items():
            if r == repo and mt in (images.MT_OCI_MANIFEST, images.MT_DOCKER_MANIFEST):
                out.update(layer["digest"] for layer in json.loads(body)["layers"])
        return out

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=None, head=False):
                owner._record(self.command, self.path, status)
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _error(self, status, code, message):
                body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
                self._send(status, body, {"Content-Type": "application/json"}, head=self.command == "HEAD")

            def _hold(self):
                """Send nothing until release() or stop(); note when the client hangs up meanwhile.
                True when released (carry on serving), False when the client left."""
                with owner._lock:
                    owner.holding += 1
                    owner.max_holding = max(owner.max_holding, owner.holding)
                try:
                    return self._hold_until_released()
                finally:
                    with owner._lock:
                        owner.holding -= 1

            def _hold_until_released(self):
                owner.stalled.set()
                deadline = time.monotonic() + 120
                while not owner.released.is_set():
                    if time.monotonic() > deadline:
                        return False
                    readable, _, _ = select.select([self.connection], [], [], 0.05)
                    if not readable:
                        continue
                    try:
                        data = self.connection.recv(1, socket.MSG_PEEK)
                    except OSError:
                        data = b""
                    if not data:
                        owner._disconnected()
                        return False
                    time.sleep(0.05)  # the client sent more (a new request): keep holding
                return True

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def do_HEAD(self):
                self.do_GET(head=True)

            def do_GET(self, head=False):
                path = urllib.parse.urlsplit(self.path).path
                if (owner.fault_path is None or re.search(owner.fault_path, path)) and owner._take("reset_first"):
                    owner._record(self.command, self.path, -1)
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if (re.search(owner.fault_path, path) if owner.fault_path else path.startswith("/v2")) and \
                        owner._take("fail_first"):
                    return self._error(owner.fail_status, "UNAVAILABLE", "injected failure")
                if owner.stall and re.search(owner.stall, path) and not owner.stall_after:
                    owner._record(self.command, self.path, 0)
                    if not self._hold():
                        self.close_connection = True
                        return
                if path in ("/v2", "/v2/"):
                    return self._send(200, b"{}", {"Content-Type": "application/json"}, head)
                m = re.match(r"^/v2/(.+)/tags/list$", path)
                if m:
                    tags = sorted(ref for (r, ref) in owner.manifests if r == m.group(1) and ":" not in ref)
                    if not tags:
                        return self._error(404, "NAME_UNKNOWN", "repository name not known to registry")
                    body = json.dumps({"name": m.group(1), "tags": tags}).encode()
                    return self._send(200, body, {"Content-Type": "application/json"}, head)
                m = re.match(r"^/v2/(.+)/(manifests|blobs)/([^/]+)$", path)
                if not m:
                    return self._error(404, "NOT_FOUND", "no route")
                repo, kind, ref = m.groups()
                if ref in owner.missing:
                    return self._error(404, "BLOB_UNKNOWN" if kind == "blobs" else "MANIFEST_UNKNOWN", "missing")
                if kind == "manifests":
                    return self._manifest(repo, ref, head)
                return self._blob(repo, ref, head)

            def _range(self, data, headers):
                """(status, body) for the request's Range header: only "bytes=N-" is understood."""
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "").strip())
                if not m or int(m.group(1)) >= len(data):
                    return 200, data
                start = int(m.group(1))
                with owner._lock:
                    owner.ranges.append((self.path, start))
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                return 206, data[start:]

            def _cut(self, status, data, headers, digest):
                """Send half the body, then close or reset the connection."""
                owner._record(self.command, self.path, status)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                owner._count(digest, len(data) // 2)
                self.close_connection = True
                if owner.cut_mode == "reset":
                    import struct
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _manifest(self, repo, ref, head):
                found = owner.manifest_override.get((repo, ref)) or owner.manifests.get((repo, ref))
                if not found:
                    return self._error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {repo}:{ref}")
                mt, body = found
                digest = ref if ":" in ref else images.sha256_digest(body)
                self._send(200, body, {"Content-Type": mt, "Docker-Content-Digest": digest},
                           head)

            def _blob(self, repo, digest, head):
                if owner.redirect_blobs:
                    return self._send(307, b"", {"Location": owner.redirect_blobs + self.path}, head)
                p = owner.blobs.get((repo, digest))
                if p is None:
                    return self._error(404, "BLOB_UNKNOWN", f"blob unknown: {digest}")
                data = p.read_bytes()
                if owner._faulty("corrupt", repo, digest):
                    data = corrupt(data)
                headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}
                # A blob in `truncate` is cut on every answer: Range is ignored, so a resume gains nothing.
                status = 200
                if not owner._faulty("truncate", repo, digest):
                    status, data = self._range(data, headers)
                if not head and (owner.fault_path is None or re.search(owner.fault_path, self.path)) and \
                        owner._take("cut_first"):
                    return self._cut(status, data, headers, digest)
                if not head:
                    owner._count(digest, len(data))
                if status == 206:
                    return self._send(206, data, headers)
                truncate = owner._faulty("truncate", repo, digest)
                stall = bool(owner.stall and re.search(owner.stall, self.path) and owner.stall_after)
                if head or not (truncate or stall):
                    return self._send(200, data, headers, head)
                owner._record(self.command, self.path, 200)
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                cut = min(owner.stall_after, len(data) - 1) if stall else len(data) // 2
                self.wfile.write(data[:cut])
                self.wfile.flush()
                if stall and not truncate and self._hold():
                    self.wfile.write(data[cut:])
                    return
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        self.server = _Server(("127.0.0.1", 0), Handler)
        if self.tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self):
        self.released.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def corrupt(data):
    """Other bytes of the same length that only a digest check can tell apart: a gzip stream gets another
    header mtime (not covered by its CRC, so it still inflates to the same tar), JSON another year in a
    date; anything else gets a byte flipped in the middle."""
    if data[:2] == b"\x1f\x8b":
        return data[:4] + bytes(b ^ 0xFF for b in data[4:8]) + data[8:]
    if b"2024-01-01" in data:
        return data.replace(b"2024-01-01", b"2025-01-01", 1)
    mid = len(data) // 2
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]


class ClosedPort:
    """A 127.0.0.1 port held bound but not listening: connections are refused, and no other process can
    take the port while this object lives."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------------------------------------
# Files the daemon reads


def _toml_str(s):
    return json.dumps(str(s))


def registries_conf(unqualified=(), registries=(), aliases=None, short_name_mode=None):
    """registries.conf (v2) text.

    registries: dicts with keys location, prefix, insecure, blocked, mirrors (list of dicts with location,
    insecure, pull_from_mirror)."""
    out = [f"unqualified-search-registries = [{', '.join(_toml_str(u) for u in unqualified)}]"]
    if short_name_mode:
        out.append(f"short-name-mode = {_toml_str(short_name_mode)}")
    for r in registries:
        out.append("\n[[registry]]")
        for k in ("prefix", "location"):
            if k in r:
                out.append(f"{k} = {_toml_str(r[k])}")
        for k in ("insecure", "blocked"):
            if k in r:
                out.append(f"{k} = {'true' if r[k] else 'false'}")
        for m in r.get("mirrors", ()):
            out.append("\n[[registry.mirror]]")
            out.append(f"location = {_toml_str(m['location'])}")
            if "insecure" in m:
                out.append(f"insecure = {'true' if m['insecure'] else 'false'}")
            if "pull_from_mirror" in m:
                out.append(f"pull-from-mirror = {_toml_str(m['pull_from_mirror'])}")
    if aliases:
        out.append("\n[aliases]")
        for k, v in aliases.items():
            out.append(f"{_toml_str(k)} = {_toml_str(v)}")
    return "\n".join(out) + "\n"


def insecure(host, **kw):
    """A [[registry]] entry for a plain-HTTP registry."""
    return dict(location=host, insecure=True, **kw)


def policy_json(default="insecureAcceptAnything", docker=None):
    """policy.json text. default: a requirement type name or a list of requirement dicts; docker: {scope:
    requirement type name or list of dicts} for the docker transport."""
    def reqs(r):
        return [{"type": r}] if isinstance(r, str) else list(r)
    policy = {"default": reqs(default)}
    if docker is not None:
        policy["transports"] = {"docker": {scope: reqs(r) for scope, r in docker.items()}}
    return json.dumps(policy, indent=2)


SIGNED_BY = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/etc/pki/containers/crio-c-test.gpg"}
SIGSTORE_SIGNED = {"type": "sigstoreSigned", "keyPath": "/etc/pki/containers/crio-c-test.pub"}


def auth_json(entries):
    """auth.json text: {registry host: (username, password)}."""
    auths = {host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()} for host, (u, p) in entries.items()}
    return json.dumps({"auths": auths}, indent=2)


# ---------------------------------------------------------------------------------------------------------
# Checks shared by the image tests


def ref(registry, name):
    """A fully qualified reference on a test registry: ref(r, "busybox:latest")."""
    return f"{registry.host}/{name}"


def image_id(catalog_entry):
    return catalog_entry["id"]


def repo_digest(registry, catalog, name):
    """HOST/REPO@<manifest digest> of a catalog image "repo:tag"."""
    e = catalog[name]
    return f"{registry.host}/{e['repo']}@{e['digest']}"


def wait_nothing_left(daemon, client, before, timeout=5.0):
    """Assert that a failed pull left the image store as `before` (a Daemon.store_snapshot) but for layers
    it finished: no new image, an empty scratch directory, and every new layer directory a whole committed
    layer (one with its diff/; those stay for the retry and go at start-up if no image claims them). Polls,
    since clean-up may finish after the RPC."""
    import crio_helpers as h
    state = {}

    def partial(layers):
        return [name for name in set(layers) - set(before[1]) if not (daemon.root / "layers" / name / "diff").is_dir()]

    def clean():
        ids, layers, tmp = daemon.store_snapshot(client)
        state.update(ids=ids, layers=layers, tmp=tmp)
        return ids == before[0] and not partial(layers) and not tmp

    if not h.wait_until(clean, timeout, 0.1):
        raise AssertionError(f"the failed pull left something behind after {timeout}s: images {state['ids']} "
                             f"(before {before[0]}), partial layer dirs {partial(state['layers'])}, "
                             f"{daemon.root / 'tmp'} holds {state['tmp']}")
