"""The certificates of one Kubernetes cluster, made by the harness: every component talks TLS.

One certificate authority per cluster signs everything: etcd's serving and peer certificate, the API server's
serving certificate (named by every address it is reached at) and its client certificates towards etcd and the
kubelets, each kubelet's serving and client certificate, and the client certificates of the controller manager,
the scheduler, kube-proxy and the harness's admin. A client's identity is its certificate's common name (the
user) and organisation (the group), as Kubernetes' x509 authenticator reads them.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Authority", "KeyPair", "new_authority", "service_account_key"]

VALIDITY = datetime.timedelta(days=365)
_SERVER, _CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM."""

    cert: bytes
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Authority:
    """The cluster's certificate authority; ``issue`` signs a certificate for a server, a client or both."""

    pair: KeyPair

    def issue(self, common_name: str, groups: tuple[str, ...] = (), dns: tuple[str, ...] = (),
              addresses: tuple[str, ...] = (), server: bool = False, client: bool = False) -> KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = x509.load_pem_x509_certificate(self.pair.cert)
        ca_key = serialization.load_pem_private_key(self.pair.key, password=None)
        names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        builder = _builder(x509.Name([*names, x509.NameAttribute(NameOID.COMMON_NAME, common_name)]), key,
                           ca_cert.subject)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=True, content_commitment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [usage for usage, wanted in ((_SERVER, server), (_CLIENT, client)) if wanted]), critical=False)
        if dns or addresses:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [*map(x509.DNSName, dns), *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses)]),
                critical=False)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                        critical=False)
        return KeyPair(_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def new_authority(cluster: str) -> Authority:
    """A certificate authority of its own for the cluster ``cluster``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"chaos-harness {cluster} CA")])
    builder = _builder(name, key, name)
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=True, key_encipherment=False, content_commitment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
        critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return Authority(KeyPair(_pem(builder.sign(key, hashes.SHA256())), _key_pem(key)))


def service_account_key() -> KeyPair:
    """The key pair the API server signs service account tokens with (the "certificate" is the public key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return KeyPair(public, _key_pem(key))


def _builder(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY))


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
