"""Merkle trees as RFC 6962 defines them: roots, inclusion and consistency proofs, and their verifiers."""

from __future__ import annotations

import hashlib

from audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    joined_leaf_hashes,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)


def _mth(leaves: list[bytes]) -> bytes:
    """The RFC's recursive definition, as written, for reference."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(70)]


def test_root_matches_the_rfc_definition_for_every_size() -> None:
    tree = MerkleTree(LEAVES)
    assert tree.root(0) == EMPTY_ROOT
    for n in range(1, len(LEAVES) + 1):
        assert tree.root(n) == _mth(LEAVES[:n]), n
        assert root_of(LEAVES[:n]) == _mth(LEAVES[:n]), n


def test_known_rfc6962_test_vector_for_the_empty_and_single_leaf_tree() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # Certificate Transparency's test vector: the leaf hash of the empty string.
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_a_tree_grown_in_steps_equals_one_built_at_once() -> None:
    tree = MerkleTree()
    for start in range(0, len(LEAVES), 7):
        tree.extend(LEAVES[start:start + 7])
    assert tree.levels == MerkleTree(LEAVES).levels


def test_every_inclusion_proof_verifies_and_is_logarithmic() -> None:
    tree = MerkleTree(LEAVES)
    for n in range(1, 40):
        root = tree.root(n)
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert len(proof) <= max(1, (n - 1).bit_length())
            assert verify_inclusion(LEAVES[i], i, n, proof, root), (i, n)


def test_inclusion_proof_fails_for_a_wrong_entry_index_or_root() -> None:
    tree = MerkleTree(LEAVES)
    n, i = 37, 11
    proof = tree.inclusion_proof(i, n)
    root = tree.root(n)
    assert not verify_inclusion(leaf_hash(b"forged"), i, n, proof, root)
    assert not verify_inclusion(LEAVES[i], i + 1, n, proof, root)
    assert not verify_inclusion(LEAVES[i], i, n, proof, tree.root(n - 1))
    assert not verify_inclusion(LEAVES[i], i, n, proof[:-1], root)
    assert not verify_inclusion(LEAVES[i], n, n, proof, root)


def test_every_consistency_proof_verifies() -> None:
    tree = MerkleTree(LEAVES)
    for n in range(1, 36):
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            assert len(proof) <= 2 * max(1, n.bit_length())
            assert verify_consistency(m, n, tree.root(m), tree.root(n), proof), (m, n)


def test_consistency_proof_fails_for_a_rewritten_history() -> None:
    tree = MerkleTree(LEAVES[:30])
    forged = MerkleTree(LEAVES[:12] + [leaf_hash(b"forged")] + LEAVES[13:30])
    proof = forged.consistency_proof(20, 30)
    # The forged log cannot prove it extends the genuine checkpoint at size 20.
    assert not verify_consistency(20, 30, tree.root(20), forged.root(30), proof)
    good = tree.consistency_proof(20, 30)
    assert not verify_consistency(20, 30, tree.root(20), forged.root(30), good)
    assert not verify_consistency(20, 30, tree.root(19), tree.root(30), good)


def test_leaf_hashes_of_joined_entries_are_those_of_the_entries() -> None:
    for entries in ([b"a"], [b"{}", b'{"x" : "\\n"}', b"", b"\x00\x01", "é".encode()], [b""] * 3):
        assert joined_leaf_hashes(b"\n".join(entries)) == leaf_hashes(entries)
