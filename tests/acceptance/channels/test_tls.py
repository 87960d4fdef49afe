"""`relay serve --tls-cert --tls-key` with the real moobius 1.8.0 SDK over https:// and wss://
and no patched line (docs/channels.md): a test CA and a server certificate made here with the
openssl command, the SDK's trust store (certifi's bundle, which it passes to both aiohttp and
websockets; SSL_CERT_FILE does not reach it) extended with that CA, and the service + user
scenario run in an interpreter of its own that never loads the ws:// shim."""

import os
import shutil
import ssl
import subprocess
import sys

import certifi
import pytest

from relaytest import Server

HERE = os.path.dirname(os.path.abspath(__file__))


def make_pki(d):
    """A test CA and a certificate for 127.0.0.1 and localhost signed by it (EC P-256, with the
    key identifiers Python's strict verification asks for)."""
    if not shutil.which("openssl"):
        pytest.fail("the openssl command is needed to make the test certificates")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d, timeout=60)
    sh("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Relay test CA",
       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    sh("req", *ec, "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    sh("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf")
    return os.path.join(d, "ca.pem"), os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")


class TlsServer(Server):
    @property
    def http(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws(self):
        return f"wss://127.0.0.1:{self.port}/ws"


@pytest.fixture
def tls_server(tmp_path):
    ca, cert, key = make_pki(str(tmp_path))
    s = TlsServer(tmp_path / "data", "--tls-cert", cert, "--tls-key", key)
    s.ssl_context = ssl.create_default_context(cafile=ca)
    s.start()
    s.ca = ca
    yield s
    s.stop()


def trust_store_with(ca, d):
    """A copy of the venv's certifi package whose bundle also holds `ca`, put first on the
    scenario's PYTHONPATH: what an operator does by adding a private CA to certifi's bundle."""
    pkg = os.path.join(d, "certifi")
    shutil.copytree(os.path.dirname(certifi.__file__), pkg)
    with open(os.path.join(pkg, "cacert.pem"), "a") as bundle, open(ca) as extra:
        bundle.write("\n" + extra.read())
    return d


def test_tls_queue_and_api_answer_over_https(tls_server):
    """The server's own HTTP API over https, verified against the test CA; plain http on the
    TLS port is refused in plain HTTP and the server goes on."""
    assert "listening on 127.0.0.1:" in tls_server.log()
    assert "TLS on" in tls_server.log()
    r = tls_server.call("POST", "/auth/sign_in", {"username": "nobody@example.com", "password": "x"})
    assert r["code"] != 10000
    import urllib.error, urllib.request
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{tls_server.port}/auth/sign_in", timeout=10)
    assert e.value.code == 400
    assert tls_server.call("POST", "/auth/sign_in", {"username": "nobody@example.com", "password": "x"})["code"] != 10000


def test_tls_real_sdk_scenario_without_patches(tls_server, tmp_path):
    tls_server.add_account("owner@example.com", "owner-pw", "Owner")
    tls_server.add_account("user@example.com", "user-pw", "User")
    t_owner = tls_server.sign_in("owner@example.com", "owner-pw")
    ch = tls_server.ok("POST", "/channel/create", {"channel_name": "Echo", "context": {"channel_description": "echo room"}}, t_owner)["channel_id"]
    store = trust_store_with(tls_server.ca, str(tmp_path / "trust"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([store, HERE]), SSL_CERT_FILE=tls_server.ca)
    p = subprocess.run([sys.executable, os.path.join(HERE, "tls_sdk_scenario.py"), tls_server.http, tls_server.ws, ch],
                       env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr[-6000:]}\nserver:\n{tls_server.log()[-3000:]}"
    assert '"ok": true' in p.stdout
    listed = tls_server.ok("GET", "/service/list", token=t_owner)
    assert any(s["channel_ids"] == [ch] for s in listed), listed
