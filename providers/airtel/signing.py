"""Airtel's v2 message signing and PIN encryption (providers.md §2.7), with `cryptography`.

A request is signed with a fresh AES-256 key and 128-bit IV: `x-signature` is Base64 of the
body encrypted AES/CBC/PKCS#7, `x-key` Base64 of `b64(key):b64(iv)` RSA-encrypted (PKCS#1
v1.5) with Airtel's public key. The disbursement PIN is RSA-encrypted with the same key. The
simulator uses `open_signature` to check what a client sent.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding as symmetric_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class SigningError(Exception):
    pass


@dataclass(frozen=True)
class Signature:
    x_signature: str
    x_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-signature": self.x_signature, "x-key": self.x_key}


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """Airtel publishes Base64 DER (SubjectPublicKeyInfo); PEM is accepted too."""
    try:
        stripped = text.strip()
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(stripped.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(stripped))
    except ValueError as exc:
        raise SigningError(f"Not an RSA public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise SigningError("Not an RSA public key")
    return key


def rsa_encrypt(public_key: str, plaintext: bytes) -> str:
    encrypted = load_public_key(public_key).encrypt(plaintext, padding.PKCS1v15())
    return base64.b64encode(encrypted).decode("ascii")


def encrypt_pin(public_key: str, pin: str) -> str:
    return rsa_encrypt(public_key, pin.encode())


def sign(public_key: str, body: bytes) -> Signature:
    key, iv = os.urandom(32), os.urandom(16)
    padder = symmetric_padding.PKCS7(128).padder()
    padded = padder.update(body) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    wrapped = f"{base64.b64encode(key).decode()}:{base64.b64encode(iv).decode()}"
    return Signature(
        x_signature=base64.b64encode(encrypted).decode("ascii"),
        x_key=rsa_encrypt(public_key, wrapped.encode()),
    )


# --- the receiving side (the simulator) -------------------------------------------------------


def rsa_decrypt(private_key: rsa.RSAPrivateKey, ciphertext_b64: str) -> bytes:
    try:
        return private_key.decrypt(
            base64.b64decode(ciphertext_b64, validate=True), padding.PKCS1v15()
        )
    except ValueError as exc:
        raise SigningError("Cannot decrypt with our private key") from exc


def open_signature(private_key: rsa.RSAPrivateKey, *, x_signature: str, x_key: str) -> bytes:
    """The body that was signed, or SigningError."""
    try:
        key_b64, _, iv_b64 = rsa_decrypt(private_key, x_key).decode().partition(":")
        key, iv = base64.b64decode(key_b64, validate=True), base64.b64decode(iv_b64, validate=True)
        if len(key) != 32 or len(iv) != 16:
            raise SigningError("x-key does not hold an AES-256 key and a 128-bit IV")
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(base64.b64decode(x_signature, validate=True))
        padded += decryptor.finalize()
        unpadder = symmetric_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (ValueError, UnicodeDecodeError) as exc:
        raise SigningError("x-signature does not decrypt") from exc
