package nft

import "math/bits"

// jhashInit is the kernel's JHASH_INITVAL (include/linux/jhash.h).
const jhashInit = 0xdeadbeef

// JHash is the Linux kernel's jhash() (Bob Jenkins' lookup3, byte-wise, with
// 32-bit words read little-endian as on x86 and arm64), which nft_hash's
// "jhash" expression applies to the registers it hashes. Together with Scale
// it predicts which slot the kernel picks, so tests know without a kernel
// which real server a client address (and port) lands on.
func JHash(k []byte, seed uint32) uint32 {
	length := uint32(len(k))
	a := jhashInit + length + seed
	b, c := a, a
	for len(k) > 12 {
		a += le32(k)
		b += le32(k[4:])
		c += le32(k[8:])
		a, b, c = jmix(a, b, c)
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var tail [12]byte
	copy(tail[:], k)
	a += le32(tail[:])
	b += le32(tail[4:])
	c += le32(tail[8:])
	return jfinal(a, b, c)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func jmix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func jfinal(a, b, c uint32) uint32 {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}

// Scale is the kernel's reciprocal_scale(h, m): h mapped onto [0, m), as
// nft_hash applies the modulus.
func Scale(h, m uint32) uint32 { return uint32((uint64(h) * uint64(m)) >> 32) }
