"""Profiles as the AWS CLI resolves them, end to end: assumed roles (chains,
cycles, credential_source, MFA), web identity, SSO, credential_process,
against moto's STS (through a recording proxy) and local stand-ins for the
SSO portal and its token cache. For every profile shape taskpipe's choice
of source is compared with botocore's resolver reading the same files, and
identities are compared through GetCallerIdentity (moto mints new keys on
every AssumeRole, so keys themselves say nothing).

Nothing here may reach 169.254.169.254 or 169.254.170.2 (IMDS is disabled
or pointed at a local server).
"""
import datetime
import json
import os
import pty
import re
import subprocess
import sys
import tempfile
import unittest

from credsfake import (Server, SsoPortal, botocore_choice, forward_to, form_of, iso, sso_cache_file,
                       utcnow)
from harness import BASE_ENV, TASKPIPE, Moto, run_taskpipe

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"
ACCOUNT = "123456789012"


def role(name, account=ACCOUNT):
    return "arn:aws:iam::%s:role/%s" % (account, name)


class ProfilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.home = self.tmp.name
        self.servers = []
        self.proxy = self.server(forward_to(self.moto.endpoint))
        self.secrets = [SECRET]

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.tmp.cleanup()

    def server(self, handler):
        s = Server(handler)
        self.servers.append(s)
        return s

    def file(self, name, text, mode=0o600):
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def files(self, credentials="", config=""):
        return {"AWS_SHARED_CREDENTIALS_FILE": self.file("credentials", credentials),
                "AWS_CONFIG_FILE": self.file("config", config)}

    def env(self, **extra):
        e = dict(BASE_ENV)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            e.pop(k, None)
        e["HOME"] = self.home
        e["AWS_ENDPOINT_URL"] = self.proxy.url
        e["TASKPIPE_LOG_LEVEL"] = "TRACE"
        e.update(extra)
        return e

    def check_no_secret(self, r):
        self.assertNotIn("Sanitizer", r.stderr)  # under TASKPIPE_BIN=taskpipe-debug: leaks on error paths too
        for s in self.secrets:
            self.assertNotIn(s, r.stdout)
            self.assertNotIn(s, r.stderr)

    def creds(self, env, ok=True):
        r = run_taskpipe(["debug", "creds"], env, timeout=60)
        self.check_no_secret(r)
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout, "")
        return r

    def whoami(self, env):
        r = run_taskpipe(["aws", "sts", "GetCallerIdentity"], env, timeout=60)
        self.check_no_secret(r)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"<Arn>([^<]*)</Arn>", r.stdout)  # the query protocol's XML answer
        self.assertIsNotNone(m, r.stdout)
        return m.group(1)

    def same_as_botocore(self, env, taskpipe_source):
        self.assertEqual(botocore_choice(env), taskpipe_source)

    def sts_calls(self, action):
        return [form_of(h) for h in self.proxy.hits if h[0] == "POST" and b"Action=" + action.encode() in h[3]]

    # ---- assumed roles ---------------------------------------------------

    def test_role_from_source_profile(self):
        env = self.env(AWS_PROFILE="dev", **self.files(
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET,
            "[profile dev]\nrole_arn = %s\nsource_profile = base\nrole_session_name = tp-dev\n"
            "external_id = ext-42\nduration_seconds = 1800\n" % role("dev-role")))
        out = self.creds(env)
        self.assertEqual(out["source"], "assume-role")
        self.assertEqual(out["chain"], "profile dev -> source_profile base (static keys, credentials file)"
                                       " -> role %s" % role("dev-role"))
        self.assertTrue(out["has_session_token"])
        self.assertGreater(out["expires_ms"], 0)
        (call,) = self.sts_calls("AssumeRole")
        self.assertEqual((call["RoleArn"], call["RoleSessionName"], call["ExternalId"], call["DurationSeconds"]),
                         (role("dev-role"), "tp-dev", "ext-42", "1800"))
        # Signed with the source profile's key.
        hit = [h for h in self.proxy.hits if b"Action=AssumeRole" in h[3]][0]
        self.assertIn("Credential=AKIDBASE/", hit[2]["Authorization"])
        self.assertIn("/sts/aws4_request", hit[2]["Authorization"])
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/dev-role/tp-dev" % ACCOUNT)
        self.same_as_botocore(env, "assume-role")

    def test_role_chain(self):
        env = self.env(AWS_PROFILE="top", **self.files(
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET,
            "[profile mid]\nrole_arn = %s\nsource_profile = base\n"
            "[profile top]\nrole_arn = %s\nsource_profile = mid\nrole_session_name = chained\n"
            % (role("mid-role"), role("top-role"))))
        out = self.creds(env)
        self.assertEqual(out["chain"], "profile top -> source_profile mid -> source_profile base (static keys, "
                                       "credentials file) -> role %s -> role %s" % (role("mid-role"), role("top-role")))
        calls = self.sts_calls("AssumeRole")
        self.assertEqual([c["RoleArn"] for c in calls], [role("mid-role"), role("top-role")])
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/top-role/chained" % ACCOUNT)
        self.same_as_botocore(env, "assume-role")

    def test_role_with_static_keys_of_its_own(self):
        # botocore allows a profile to name itself when it has static keys.
        env = self.env(AWS_PROFILE="self", **self.files(
            "[self]\naws_access_key_id = AKIDSELF\naws_secret_access_key = %s\n"
            "role_arn = %s\nsource_profile = self\n" % (SECRET, role("self-role"))))
        out = self.creds(env)
        self.assertEqual(out["source"], "assume-role")
        self.assertIn("source_profile self (static keys)", out["chain"])
        self.same_as_botocore(env, "assume-role")

    def test_sts_refusal_is_an_error(self):
        err = (b'<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed to '
               b'assume role</Message></Error><RequestId>r-1</RequestId></ErrorResponse>')
        sts = self.server(lambda req, b: (403, {"Content-Type": "text/xml"}, err))
        imds = self.server(lambda req, b: (500, {}, b""))
        env = self.env(AWS_PROFILE="dev", AWS_ENDPOINT_URL_STS=sts.url, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                       **self.files("[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET,
                                    "[profile dev]\nrole_arn = %s\nsource_profile = base\n" % role("nope")))
        del env["AWS_EC2_METADATA_DISABLED"]
        r = self.creds(env, ok=False)
        self.assertIn("sts AssumeRole %s (role %s): HTTP 403 AccessDenied: not allowed to assume role"
                      % (sts.url, role("nope")), r.stderr)
        self.assertEqual(len(sts.hits), 1)  # AWS_ENDPOINT_URL_STS over AWS_ENDPOINT_URL
        self.assertEqual(self.proxy.hits, [])
        self.assertEqual(imds.hits, [])

    def test_sts_transient_failure_tried_again(self):
        forward = forward_to(self.moto.endpoint)
        seen = []

        def flaky(req, body):
            seen.append(1)
            if len(seen) == 1:
                return 503, {"Content-Type": "text/xml"}, b"<ErrorResponse><Error><Code>ServiceUnavailable</Code>" \
                                                          b"</Error></ErrorResponse>"
            if len(seen) == 2:
                return 400, {"Content-Type": "text/xml"}, b"<ErrorResponse><Error><Code>Throttling</Code>" \
                                                          b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
            return forward(req, body)
        sts = self.server(flaky)
        env = self.env(AWS_PROFILE="dev", AWS_ENDPOINT_URL_STS=sts.url, **self.files(
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET,
            "[profile dev]\nrole_arn = %s\nsource_profile = base\n" % role("flaky")))
        out = self.creds(env)
        self.assertEqual(out["source"], "assume-role")
        self.assertEqual(len(sts.hits), 3)
        self.assertEqual(len({h[3] for h in sts.hits}), 1)  # the same request each time

    def test_credential_source_imds(self):
        c = self.moto.client("sts").assume_role(RoleArn=role("ec2-instance"), RoleSessionName="i-1")["Credentials"]
        body = json.dumps({"Code": "Success", "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                           "Token": c["SessionToken"], "Expiration": iso(c["Expiration"])}).encode()

        def imds(req, b):
            if req.command == "PUT":
                return 200, {}, b"imds-token"
            if req.path.endswith("/security-credentials/"):
                return 200, {}, b"ec2-instance"
            return 200, {}, body
        srv = self.server(imds)
        env = self.env(AWS_PROFILE="x", AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url, **self.files(
            "", "[profile x]\nrole_arn = %s\ncredential_source = Ec2InstanceMetadata\nrole_session_name = hop\n"
            % role("target")))
        del env["AWS_EC2_METADATA_DISABLED"]
        out = self.creds(env)
        self.assertEqual(out["chain"], "profile x -> credential_source Ec2InstanceMetadata -> role %s" % role("target"))
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/target/hop" % ACCOUNT)
        self.same_as_botocore(env, "assume-role")

    def test_cycle_refused(self):
        env = self.env(AWS_PROFILE="a", **self.files("", (
            "[profile a]\nrole_arn = %s\nsource_profile = b\n"
            "[profile b]\nrole_arn = %s\nsource_profile = a\n") % (role("ra"), role("rb"))))
        r = self.creds(env, ok=False)
        self.assertIn("source_profile loop: a -> b -> a", r.stderr)
        self.assertEqual(self.sts_calls("AssumeRole"), [])
        self.same_as_botocore(env, "error: InfiniteLoopConfigError")
        # Naming itself without static keys of its own is a loop too.
        env = self.env(AWS_PROFILE="s", **self.files("", "[profile s]\nrole_arn = %s\nsource_profile = s\n"
                                                     % role("rs")))
        r = self.creds(env, ok=False)
        self.assertIn("profile s: source_profile loop: s is its own source_profile and has no static keys", r.stderr)
        self.same_as_botocore(env, "error: InfiniteLoopConfigError")

    def test_missing_source_profile(self):
        env = self.env(AWS_PROFILE="dev", **self.files("", "[profile dev]\nrole_arn = %s\nsource_profile = gone\n"
                                                       % role("r")))
        r = self.creds(env, ok=False)
        self.assertIn('profile dev: source_profile "gone" does not exist', r.stderr)
        self.same_as_botocore(env, "error: InvalidConfigError")

    def test_credential_source_container(self):
        c = self.moto.client("sts").assume_role(RoleArn=role("ecs-task"), RoleSessionName="task")["Credentials"]
        body = json.dumps({"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                           "Token": c["SessionToken"], "Expiration": iso(c["Expiration"])}).encode()
        ecs = self.server(lambda req, b: (200, {"Content-Type": "application/json"}, body))
        env = self.env(AWS_PROFILE="x", AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/creds", **self.files(
            "", "[profile x]\nrole_arn = %s\ncredential_source = EcsContainer\nrole_session_name = from-ecs\n"
            % role("cross")))
        out = self.creds(env)
        self.assertEqual(out["chain"], "profile x -> credential_source EcsContainer -> role %s" % role("cross"))
        hit = [h for h in self.proxy.hits if b"Action=AssumeRole" in h[3]][0]
        self.assertIn("Credential=%s/" % c["AccessKeyId"], hit[2]["Authorization"])
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/cross/from-ecs" % ACCOUNT)
        self.same_as_botocore(env, "assume-role")

    def test_credential_source_failures_never_fall_through(self):
        imds = self.server(lambda req, b: (500, {}, b""))
        base = dict(AWS_PROFILE="x", AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
        base.pop("AWS_EC2_METADATA_DISABLED", None)
        # Unknown name.
        env = self.env(**base, **self.files("", "[profile x]\nrole_arn = %s\ncredential_source = Bogus\n"
                                            % role("r")))
        env.pop("AWS_EC2_METADATA_DISABLED")
        r = self.creds(env, ok=False)
        self.assertIn('profile x: credential_source "Bogus" is not valid', r.stderr)
        self.same_as_botocore(env, "error: InvalidConfigError")
        # A valid name whose source has nothing: an error, no other identity.
        env = self.env(**base, **self.files("", "[profile x]\nrole_arn = %s\ncredential_source = EcsContainer\n"
                                            % role("r")))
        env.pop("AWS_EC2_METADATA_DISABLED")
        r = self.creds(env, ok=False)
        self.assertIn("profile x: no credentials from credential_source EcsContainer: container: not configured",
                      r.stderr)
        self.assertEqual(imds.hits, [])
        self.same_as_botocore(env, "error: CredentialRetrievalError")
        # Both source_profile and credential_source.
        env = self.env(**base, **self.files("", "[profile x]\nrole_arn = %s\ncredential_source = Environment\n"
                                            "source_profile = x\n" % role("r")))
        r = self.creds(env, ok=False)
        self.assertIn("profile x: has both source_profile and credential_source", r.stderr)
        self.assertEqual(imds.hits, [])

    def test_mfa_without_terminal_is_a_clear_error(self):
        env = self.env(AWS_PROFILE="m", **self.files(
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET,
            "[profile m]\nrole_arn = %s\nsource_profile = base\nmfa_serial = arn:aws:iam::%s:mfa/op\n"
            % (role("mfa-role"), ACCOUNT)))
        r = subprocess.run([TASKPIPE, "debug", "creds"], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("profile m: mfa_serial arn:aws:iam::%s:mfa/op needs a one-time code, and stdin is not a "
                      "terminal" % ACCOUNT, r.stderr)
        self.assertEqual(self.sts_calls("AssumeRole"), [])

    def test_mfa_code_asked_on_terminal(self):
        env = self.env(AWS_PROFILE="m", **self.files(
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET,
            "[profile m]\nrole_arn = %s\nsource_profile = base\nmfa_serial = arn:aws:iam::%s:mfa/op\n"
            % (role("mfa-role"), ACCOUNT)))
        master, slave = pty.openpty()
        p = subprocess.Popen([TASKPIPE, "debug", "creds"], env=env, stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        os.close(slave)
        os.write(master, b"123456\n")
        out, err = p.communicate(timeout=60)
        os.close(master)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("Enter MFA code for arn:aws:iam::%s:mfa/op: " % ACCOUNT, err)
        self.assertEqual(json.loads(out)["source"], "assume-role")
        (call,) = self.sts_calls("AssumeRole")
        self.assertEqual((call["SerialNumber"], call["TokenCode"]), ("arn:aws:iam::%s:mfa/op" % ACCOUNT, "123456"))

    # ---- web identity ----------------------------------------------------

    def test_web_identity_from_environment(self):
        tok = self.file("token", "eyJ.web.identity-token\n")
        self.secrets.append("eyJ.web.identity-token")
        env = self.env(AWS_WEB_IDENTITY_TOKEN_FILE=tok, AWS_ROLE_ARN=role("irsa"),
                       AWS_ROLE_SESSION_NAME="pod-1", **self.files())
        out = self.creds(env)
        self.assertEqual(out["source"], "assume-role-with-web-identity")
        self.assertEqual(out["chain"], "profile default -> web_identity_token_file %s -> role %s"
                         % (tok, role("irsa")))
        (call,) = self.sts_calls("AssumeRoleWithWebIdentity")
        self.assertEqual((call["RoleArn"], call["RoleSessionName"], call["WebIdentityToken"]),
                         (role("irsa"), "pod-1", "eyJ.web.identity-token"))
        hit = [h for h in self.proxy.hits if b"AssumeRoleWithWebIdentity" in h[3]][0]
        self.assertNotIn("Authorization", hit[2])  # unsigned, as the SDKs send it
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/irsa/pod-1" % ACCOUNT)
        self.same_as_botocore(env, "assume-role-with-web-identity")

    def test_web_identity_from_profile(self):
        tok = self.file("token", "profile-token")
        self.secrets.append("profile-token")
        env = self.env(AWS_PROFILE="ci", **self.files("", "[profile ci]\nweb_identity_token_file = %s\n"
                                                      "role_arn = %s\nrole_session_name = gha\n" % (tok, role("ci"))))
        out = self.creds(env)
        self.assertEqual(out["source"], "assume-role-with-web-identity")
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/ci/gha" % ACCOUNT)
        self.same_as_botocore(env, "assume-role-with-web-identity")
        # An unreadable token file is an error naming it.
        os.unlink(tok)
        r = self.creds(env, ok=False)
        self.assertIn(tok, r.stderr)

    # ---- SSO -------------------------------------------------------------

    def sso_setup(self, portal, legacy=False):
        srv = self.server(portal)
        if legacy:
            config = ("[profile sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
                      "sso_account_id = 111122223333\nsso_role_name = Admin\n")
        else:
            config = ("[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n"
                      "[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\n"
                      "sso_region = us-east-1\n")
        env = self.env(AWS_PROFILE="sso", AWS_ENDPOINT_URL_SSO=srv.url, AWS_ENDPOINT_URL_SSO_OIDC=srv.url,
                       **self.files("", config))
        cache = sso_cache_file(self.home, "https://example.awsapps.com/start" if legacy else "corp")
        return srv, env, cache

    def write_token(self, path, access, expires, refresh=None):
        t = {"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": access,
             "expiresAt": iso(expires)}
        if refresh:
            t.update(refreshToken=refresh, clientId="client-1", clientSecret="client-secret-1",
                     registrationExpiresAt=iso(utcnow() + datetime.timedelta(days=30)))
        with open(path, "w") as f:
            json.dump(t, f)
        self.secrets += [access] + ([refresh, "client-secret-1"] if refresh else [])

    def test_sso_session(self):
        portal = SsoPortal(self.moto.client("sts"))
        srv, env, cache = self.sso_setup(portal)
        self.write_token(cache, "access-token-1", utcnow() + datetime.timedelta(hours=4))
        portal.valid_tokens.add("access-token-1")
        out = self.creds(env)
        self.assertEqual(out["source"], "sso")
        self.assertEqual(out["chain"], "profile sso -> sso_session corp -> account 111122223333 role Admin (sso)")
        get = [h for h in srv.hits if h[0] == "GET"][0]
        self.assertEqual(get[1], "/federation/credentials?role_name=Admin&account_id=111122223333")
        self.assertEqual(self.whoami(env), "arn:aws:sts::111122223333:assumed-role/Admin/sso-Admin")
        self.same_as_botocore(env, "sso")

    def test_role_from_sso_and_web_identity_sources(self):
        """A source_profile is resolved by the whole profile list: SSO and
        web identity sources (no AWS_* web identity variables for it)."""
        portal = SsoPortal(self.moto.client("sts"))
        srv = self.server(portal)
        tok = self.file("token", "chained-web-token")
        self.secrets += ["chained-web-token", "chain-access-token"]
        config = ("[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n"
                  "[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
                  "[profile wi]\nweb_identity_token_file = %s\nrole_arn = %s\nrole_session_name = wi\n"
                  "[profile via-sso]\nrole_arn = %s\nsource_profile = sso\nrole_session_name = a\n"
                  "[profile via-wi]\nrole_arn = %s\nsource_profile = wi\nrole_session_name = b\n"
                  % (tok, role("ci"), role("after-sso"), role("after-wi")))
        files = self.files("", config)
        self.write_token(sso_cache_file(self.home, "corp"), "chain-access-token",
                         utcnow() + datetime.timedelta(hours=1))
        portal.valid_tokens.add("chain-access-token")
        env = self.env(AWS_PROFILE="via-sso", AWS_ENDPOINT_URL_SSO=srv.url, **files)
        out = self.creds(env)
        self.assertEqual(out["chain"], "profile via-sso -> source_profile sso -> sso_session corp -> account "
                                       "111122223333 role Admin (sso) -> role %s" % role("after-sso"))
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/after-sso/a" % ACCOUNT)
        self.same_as_botocore(env, "assume-role")
        env = self.env(AWS_PROFILE="via-wi", **files)
        out = self.creds(env)
        self.assertEqual(out["chain"], "profile via-wi -> source_profile wi -> web_identity_token_file %s -> role %s"
                                       " -> role %s" % (tok, role("ci"), role("after-wi")))
        self.assertEqual(self.whoami(env), "arn:aws:sts::%s:assumed-role/after-wi/b" % ACCOUNT)
        self.same_as_botocore(env, "assume-role")

    def test_sso_legacy_start_url(self):
        portal = SsoPortal(self.moto.client("sts"))
        srv, env, cache = self.sso_setup(portal, legacy=True)
        self.write_token(cache, "legacy-token", utcnow() + datetime.timedelta(hours=1))
        portal.valid_tokens.add("legacy-token")
        out = self.creds(env)
        self.assertEqual(out["chain"], "profile sso -> sso_start_url https://example.awsapps.com/start -> "
                                       "account 111122223333 role Admin (sso)")
        self.same_as_botocore(env, "sso")

    def test_sso_token_refreshed(self):
        portal = SsoPortal(self.moto.client("sts"))
        srv, env, cache = self.sso_setup(portal)
        # 5 minutes left: inside botocore's 15-minute refresh window.
        self.write_token(cache, "old-token", utcnow() + datetime.timedelta(minutes=5), refresh="refresh-1")
        portal.refresh["refresh-1"] = ("new-token", 28800)
        self.secrets += ["new-token", "refresh-1-next"]
        out = self.creds(env)
        self.assertEqual(out["source"], "sso")
        (post,) = [h for h in srv.hits if h[0] == "POST"]
        self.assertEqual(post[1], "/token")
        self.assertEqual(json.loads(post[3]), {"clientId": "client-1", "clientSecret": "client-secret-1",
                                               "grantType": "refresh_token", "refreshToken": "refresh-1"})
        get = [h for h in srv.hits if h[0] == "GET"][0]
        self.assertEqual(get[2]["x-amz-sso_bearer_token"], "new-token")
        with open(cache) as f:
            saved = json.load(f)
        self.assertEqual((saved["accessToken"], saved["refreshToken"]), ("new-token", "refresh-1-next"))
        self.assertEqual(oct(os.stat(cache).st_mode & 0o777), "0o600")
        left = datetime.datetime.strptime(saved["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc) - utcnow()
        self.assertGreater(left.total_seconds(), 7 * 3600)

    def test_sso_expired_says_to_log_in(self):
        portal = SsoPortal(self.moto.client("sts"))
        srv, env, cache = self.sso_setup(portal)
        imds = self.server(lambda req, b: (500, {}, b""))
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url
        del env["AWS_EC2_METADATA_DISABLED"]
        self.write_token(cache, "stale-token", utcnow() - datetime.timedelta(minutes=1))
        r = self.creds(env, ok=False)
        self.assertIn("profile sso: the SSO session has expired", r.stderr)
        self.assertIn("run: aws sso login --profile sso", r.stderr)
        # No token cached at all.
        os.unlink(cache)
        r = self.creds(env, ok=False)
        self.assertIn("profile sso: no SSO token cached in %s; run: aws sso login --profile sso" % cache, r.stderr)
        # The portal refusing a token.
        self.write_token(cache, "revoked-token", utcnow() + datetime.timedelta(hours=1))
        r = self.creds(env, ok=False)
        self.assertIn("the SSO portal refused the token", r.stderr)
        self.assertIn("aws sso login --profile sso", r.stderr)
        self.assertEqual(imds.hits, [])

    def test_sso_session_missing_section(self):
        env = self.env(AWS_PROFILE="sso", **self.files("", "[profile sso]\nsso_session = nope\n"
                                                       "sso_account_id = 1\nsso_role_name = R\n"))
        r = self.creds(env, ok=False)
        self.assertIn('profile sso: sso-session "nope" does not exist', r.stderr)
        self.same_as_botocore(env, "error: InvalidConfigError")

    # ---- credential_process ----------------------------------------------

    def helper(self, body, stderr_text="", exit_code=0, sleep=0):
        self.helpers = getattr(self, "helpers", 0) + 1
        script = self.file("helper%d.py" % self.helpers, "import sys, time\ntime.sleep(%r)\nsys.stderr.write(%r)\n"
                                        "sys.stdout.write(%r)\nsys.exit(%d)\n" % (sleep, stderr_text, body, exit_code))
        return "%s %s" % (sys.executable, script)

    def test_credential_process(self):
        exp = utcnow() + datetime.timedelta(hours=2)
        cmd = self.helper(json.dumps({"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": SECRET,
                                      "SessionToken": "proc-token", "Expiration": iso(exp)}),
                          stderr_text="helper says hello\n")
        self.secrets.append("proc-token")
        env = self.env(AWS_PROFILE="p", **self.files("", "[profile p]\ncredential_process = %s\n" % cmd))
        r = run_taskpipe(["debug", "creds"], env, timeout=60)
        self.check_no_secret(r)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["source"], out["access_key_id"], out["has_session_token"]),
                         ("custom-process", "AKIDPROC", True))
        self.assertEqual(out["expires_ms"], int(exp.replace(microsecond=0).timestamp()) * 1000)
        self.assertIn("helper says hello", r.stderr)  # passed through
        self.same_as_botocore(env, "custom-process")

    def test_credential_process_failures(self):
        imds = self.server(lambda req, b: (500, {}, b""))
        cases = [
            (self.helper("", "denied by helper\n", exit_code=3), "credential_process exited with status 3"),
            (self.helper('{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"}'), "Version other than 1"),
            (self.helper("not json"), "credential_process output is not a JSON object"),
            (self.helper('{"Version": 1, "AccessKeyId": "A"}'), "lacks AccessKeyId or SecretAccessKey"),
            (self.helper('{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "soon"}'),
             "Expiration is not an ISO 8601 time"),
            (self.helper("{}", sleep=30), "no answer within 700 ms"),
        ]
        for cmd, want in cases:
            with self.subTest(want=want):
                env = self.env(AWS_PROFILE="p",
                               TASKPIPE_CREDENTIAL_PROCESS_TIMEOUT_MS="700" if "700" in want else "60000",
                               AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                               **self.files("", "[profile p]\ncredential_process = %s\n" % cmd))
                del env["AWS_EC2_METADATA_DISABLED"]
                r = self.creds(env, ok=False)
                self.assertIn("taskpipe: profile p: ", r.stderr)
                self.assertIn(want, r.stderr)
        self.assertEqual(imds.hits, [])

    # ---- order and refusals ----------------------------------------------

    def test_order_matches_botocore(self):
        """One profile with several sources: each time the first (botocore's
        order) is removed, the next one must win, in both resolvers."""
        tok = self.file("token", "order-token")
        self.secrets.append("order-token")
        cmd = self.helper(json.dumps({"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": SECRET}))
        parts = {
            "role": "role_arn = %s\nsource_profile = base\n" % role("order"),
            "web": "web_identity_token_file = %s\n" % tok,
            "sso": "sso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n"
                   "sso_account_id = 1\nsso_role_name = R\n",
            "process": "credential_process = %s\n" % cmd,
            "conf": "aws_access_key_id = AKIDCONF\naws_secret_access_key = %s\n" % SECRET,
        }
        base = "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET
        credfile = "[o]\naws_access_key_id = AKIDCRED\naws_secret_access_key = %s\n" % SECRET
        web = "web_identity_token_file = %s\nrole_arn = %s\n" % (tok, role("web-order"))
        later = ["sso", "credfile", "process", "conf"]
        stages = [("role", [parts["role"]], "assume-role"),
                  ("web", [web], "assume-role-with-web-identity"),
                  ("sso", [], "sso"), ("credfile", [], "profile"), ("process", [], "custom-process"),
                  ("conf", [], "profile")]
        for name, extra, source in stages:
            if name in later:
                later = later[later.index(name):]
            with self.subTest(first=name):
                conf = "[profile o]\n" + "".join(extra) + "".join(parts[p] for p in later if p in parts)
                env = self.env(AWS_PROFILE="o", **self.files(base + (credfile if "credfile" in later else ""),
                                                             conf))
                self.assertEqual(botocore_choice(env), source)
                if name == "sso":
                    # Both pick SSO; taskpipe then needs a token (none cached here).
                    r = self.creds(env, ok=False)
                    self.assertIn("no SSO token cached", r.stderr)
                else:
                    self.assertEqual(self.creds(env)["source"], source)

    def test_unusable_sources_are_errors(self):
        imds = self.server(lambda req, b: (500, {}, b""))
        cases = [
            ("login_session = my-login\n", "profile u: login_session (aws login) is not supported"),
            ("sso_session = corp\n", "profile u: sso_session is set but the profile does not say how"),
            ("source_profile = other\n", "profile u: source_profile is set but"),
            ("role_arn = %s\n" % role("r"), "profile u: role_arn needs source_profile or credential_source"),
            ("aws_access_key_id = AKIDHALF\n", "needs both aws_access_key_id and aws_secret_access_key"),
        ]
        for body, want in cases:
            with self.subTest(want=want):
                env = self.env(AWS_PROFILE="u", AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                               **self.files("", "[profile u]\nregion = us-east-1\n" + body))
                del env["AWS_EC2_METADATA_DISABLED"]
                r = self.creds(env, ok=False)
                self.assertIn(want, r.stderr)
        self.assertEqual(imds.hits, [])

    def test_profile_named_but_absent(self):
        env = self.env(AWS_PROFILE="nowhere", **self.files("[default]\naws_access_key_id = AKIDDEF\n"
                                                           "aws_secret_access_key = %s\n" % SECRET))
        r = self.creds(env, ok=False)
        self.assertIn("profile nowhere: not found in", r.stderr)
        self.same_as_botocore(env, "error: ProfileNotFound")

    def test_env_keys_win_over_profile_role(self):
        env = self.env(AWS_PROFILE="dev", AWS_ACCESS_KEY_ID="AKIDENV", AWS_SECRET_ACCESS_KEY=SECRET, **self.files(
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET,
            "[profile dev]\nrole_arn = %s\nsource_profile = base\n" % role("dev-role")))
        self.assertEqual(self.creds(env)["source"], "env")
        self.same_as_botocore(env, "env")
        self.assertEqual(self.sts_calls("AssumeRole"), [])


if __name__ == "__main__":
    unittest.main()
