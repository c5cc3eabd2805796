import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.normalise.identifiers import (
    NormalisationError,
    normalise_email,
    normalise_ip,
    normalise_phone,
    normalise_token,
    prompt_bands,
)


@pytest.mark.parametrize(
    ("raw", "mailbox"),
    [
        ("  Li.Wei+7@GMail.com ", "liwei@gmail.com"),
        ("l.i.w.e.i@googlemail.com", "liwei@gmail.com"),
        ("John.Smith+promo+x@Example.COM", "john.smith@example.com"),  # dots kept off gmail
        ("user@bücher.de", "user@xn--bcher-kva.de"),
        ("user@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de"),
        ("user@example.com.", "user@example.com"),
        ("a@b@example.com", "a@b@example.com"),  # the last @ separates the domain
    ],
)
def test_email_canonical_mailbox(raw: str, mailbox: str) -> None:
    assert normalise_email(raw).mailbox == mailbox


def test_email_marks_webmail_and_disposable() -> None:
    assert normalise_email("x@gmail.com").webmail
    assert not normalise_email("x@gmail.com").disposable
    assert normalise_email("x@mailinator.com").disposable
    corporate = normalise_email("x@acme-corp.example")
    assert not corporate.webmail and not corporate.disposable


def test_email_local_shape_summarises_the_pattern() -> None:
    assert normalise_email("john.smith1987@x.com").local_shape == "a.a9"
    assert normalise_email("jane_doe_22@x.com").local_shape == "a_a_9"


@pytest.mark.parametrize("raw", ["no-at-sign", "@example.com", "user@", "+tag@example.com"])
def test_email_errors(raw: str) -> None:
    with pytest.raises(NormalisationError):
        normalise_email(raw)


emails = st.emails()


@given(emails, st.sampled_from(["", "+promo", "+a+b"]), st.sampled_from(["", " ", "\t"]))
def test_email_invariant_under_case_tags_and_spaces(email: str, tag: str, pad: str) -> None:
    local, _, domain = email.rpartition("@")
    if "+" in local:
        return
    variant = f"{pad}{local.upper()}{tag}@{domain.upper()}{pad}"
    assert normalise_email(variant).mailbox == normalise_email(email).mailbox


def test_ip_forms() -> None:
    assert normalise_ip("203.0.113.17").subnet == "203.0.113.0/24"
    assert normalise_ip("::ffff:203.0.113.17").address == "203.0.113.17"
    v6 = normalise_ip("2001:DB8:0000:0000:0000:0000:0000:0001")
    assert (v6.address, v6.subnet, v6.version) == ("2001:db8::1", "2001:db8::/48", 6)
    with pytest.raises(NormalisationError):
        normalise_ip("1.2.3")


@given(st.ip_addresses(v=4))
def test_ipv4_round_trip_and_mapped_form(address: ipaddress.IPv4Address) -> None:
    key = normalise_ip(str(address))
    assert ipaddress.ip_address(key.address) == address
    assert normalise_ip(f"::ffff:{address}") == key
    assert address in ipaddress.ip_network(key.subnet)
    assert key.subnet == str(ipaddress.ip_network(f"{address}/24", strict=False))


@given(st.ip_addresses(v=6))
def test_ipv6_any_spelling_gives_one_key(address: ipaddress.IPv6Address) -> None:
    if address.ipv4_mapped is not None:
        return
    key = normalise_ip(address.exploded.upper())
    assert key == normalise_ip(address.compressed)
    assert ipaddress.ip_address(key.address) == address
    assert key.subnet == str(ipaddress.ip_network(f"{address}/48", strict=False))


def test_phone_and_tokens() -> None:
    assert normalise_phone("+44 20 7946-0000") == "+442079460000"
    assert normalise_phone("0044 (20) 7946 0000") == "+442079460000"
    with pytest.raises(NormalisationError):
        normalise_phone("12345")
    assert normalise_token("  D-9F2C1E ") == "d-9f2c1e"
    with pytest.raises(NormalisationError):
        normalise_token("   ")


def test_prompt_bands_share_keys_for_near_identical_templates() -> None:
    base = int("9f3a0c4412be7d01", 16)
    near = f"{base ^ 0b101:016x}"  # two bits flipped, both in the last band
    far = f"{~base & (2**64 - 1):016x}"
    shared = set(prompt_bands("9f3a0c4412be7d01")) & set(prompt_bands(near))
    assert len(shared) == 3
    assert not set(prompt_bands("9f3a0c4412be7d01")) & set(prompt_bands(far))
    assert prompt_bands("9F3A0C4412BE7D01") == prompt_bands("9f3a0c4412be7d01")
