#!/bin/bash
# Makes the LUKS images test_luks reads, in DIR (the test's private
# temporary directory): headers written by cryptsetup (LUKS1, LUKS2 with
# pbkdf2, argon2i and argon2id) and by qemu-img (LUKS1, with data written
# through QEMU's luks driver), KDF costs forced small so that this takes
# seconds.  Exit 77 with "SKIP: ..." when cryptsetup or qemu-img is
# missing (scripts/deps.sh installs them).
set -eu
dir=$1
for tool in cryptsetup qemu-img python3; do
	command -v "$tool" >/dev/null ||
		{ echo "SKIP: $tool not installed (scripts/deps.sh)"; exit 77; }
done
python3 -c 'import cryptography' 2>/dev/null ||
	{ echo "SKIP: python3-cryptography not installed (scripts/deps.sh)"; exit 77; }
cd "$dir"
printf 'pvd luks test key' >key
printf 'not the key' >wrongkey
head -c 1048576 /dev/urandom >plain.raw

# luks1 NAME CIPHER BITS HASH
luks1() {
	truncate -s 6M "$1.img"
	cryptsetup luksFormat -q --type luks1 --cipher "$2" -s "$3" --hash "$4" \
		--pbkdf-force-iterations 1000 --key-file key "$1.img"
}
# mkdump NAME: NAME.mk, the volume key in hex, from cryptsetup itself
# (--dump-master-key before cryptsetup 2.5).
mkdump() {
	{ cryptsetup luksDump -q --dump-volume-key --key-file key "$1.img" 2>/dev/null ||
	  cryptsetup luksDump -q --dump-master-key --key-file key "$1.img"; } |
		awk '/MK dump:/ { on = 1; sub(/.*MK dump:/, "") }
		     on && /^[[:space:]]*([0-9a-f][0-9a-f] ?)+[[:space:]]*$/ { printf "%s", $0; next }
		     on { on = 0 }' | tr -d ' \t\n' >"$1.mk"
	[ -s "$1.mk" ]
}
# luks2 NAME CIPHER BITS SECTOR KDF-OPTIONS...
luks2() {
	local name=$1 cipher=$2 bits=$3 sector=$4
	shift 4
	truncate -s 6M "$name.img"
	cryptsetup luksFormat -q --type luks2 --cipher "$cipher" -s "$bits" \
		--sector-size "$sector" --luks2-metadata-size 16k \
		--luks2-keyslots-size 1m --key-file key "$@" "$name.img" 2>&1 |
		grep -v 'keyslots area.*is very small' >&2 || true
	mkdump "$name"
}

luks1 c1-xts512 aes-xts-plain64 512 sha256
luks1 c1-xts256 aes-xts-plain64 256 sha1
luks1 c1-essiv aes-cbc-essiv:sha256 256 sha256
luks1 c1-cbc64 aes-cbc-plain64 128 sha512
luks1 c1-xtsplain aes-xts-plain 256 sha256
luks1 c1-cbcplain aes-cbc-plain 256 sha256
# QEMU 7.2 asserts on AES-192 images: this one is checked by luks_ref.py.
luks1 c1-cbc192 aes-cbc-plain64 192 sha256
mkdump c1-cbc192
# A second keyslot: the key opens slot 1 after slot 0 refused it.
truncate -s 6M c1-slot1.img
cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 \
	--key-file wrongkey c1-slot1.img
cryptsetup luksAddKey -q --pbkdf-force-iterations 1000 --key-file wrongkey \
	c1-slot1.img key

luks2 c2-pbkdf2 aes-xts-plain64 512 512 --pbkdf pbkdf2 --pbkdf-force-iterations 1000
luks2 c2-argon2id aes-xts-plain64 512 4096 --pbkdf argon2id \
	--pbkdf-memory 32 --pbkdf-parallel 1 --pbkdf-force-iterations 4
luks2 c2-argon2i aes-cbc-essiv:sha256 256 1024 --pbkdf argon2i \
	--pbkdf-memory 64 --pbkdf-parallel 2 --pbkdf-force-iterations 4
luks2 c2-xts256 aes-xts-plain64 256 512 --hash sha512 --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000

# QEMU's LUKS1, then plain.raw written through QEMU's luks driver.
secret="--object secret,id=s,file=key"
# QEMU times its PBKDF2 iterations; under load the measurement can come
# back empty ("Unable to get accurate CPU usage"), several times in a row
# on a busy 2-core machine (half the tries there): tried 12 times.
for try in $(seq 12); do
	qemu-img create -q -f luks $secret -o key-secret=s,iter-time=50 q1.img 4M && break
	[ "$try" = 12 ] && exit 1
done
qemu-img convert -n -f raw plain.raw $secret \
	--target-image-opts "driver=luks,key-secret=s,file.filename=q1.img"
