/*
 * common/fastcdc.c - see fastcdc.h.  The cut rule, the masks and the gear
 * table are on-disk format: read docs/chunking.md before touching them.
 */
#include "common/fastcdc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Bytes of stream buffers, summed over all streams of the process, whose
 * pages stay resident between chunks.  Giving pages back after every chunk
 * bounds memory but makes every chunk fault its buffer in again, which
 * cost a fifth of a busy server's CPU here; keeping them costs up to
 * max_size per stream.  So streams keep their pages while the total stays
 * under this, and give them back beyond it (many concurrent uploads). */
#define CDC_KEEP_BUDGET ((size_t)64 << 20)

static size_t cdc_kept_total; /* atomic */

/*
 * gear[b] is the b-th output (b = 0..255) of splitmix64 seeded with
 * 0x636169726e636463 ("cairncdc" in ASCII, big-endian).  Generated once;
 * the unit test regenerates it and compares.  Never edit by hand.
 */
const uint64_t cdc_gear[256] = {
    0x6403f467f085d64b, 0xf40e077fcba7fe61, 0xdea32663d1d192f3, 0x99b86e7f9105fbd5,
    0xe5d56ac6e80297a6, 0x8d6cba76ad0e3848, 0xf0ba7a1d73522a4e, 0x470422c7e16bee0a,
    0x01c082d75434c2c4, 0xe8ba2e23c9006319, 0x4437ec5e66e6f00b, 0xd4c424fda9c3d9f2,
    0x33def9a6db19cac1, 0x0786c5bb83119009, 0x8e82acbb0f7a033b, 0x364319a9cacdd84d,
    0x5bdc0fd80df32cc8, 0x02ab804369cc67e6, 0xe0223d18ef1cdb4e, 0x50227e41c2c89de0,
    0x46ec999ad93c7ddd, 0x6fab732e3d9b5574, 0xa072eef422ea5fef, 0x2fd04165bb2ff5a8,
    0x35379a3187aca913, 0xb7d63e01bae43157, 0x88881d73019b0e98, 0xa8ee512f1777b279,
    0x6419d77f0c3d8f6b, 0x4589f46f2aa66c15, 0xfe5d851427c63599, 0xad27ae75485a5a09,
    0xdf08bc27ddddf759, 0x029d0de48bff673f, 0x8a6a465db8e06a11, 0x27c8799da4ccc68a,
    0xdf1533083066bcc6, 0x18de4c5e4540721d, 0x64bf43bfaf2c9392, 0x02a6e65926f804e9,
    0xe8fe05415b6f64bc, 0xb3ed5412546f48f2, 0x19842b0afa481fcb, 0xa9642ba089dba7f0,
    0x617dce068c24fbc6, 0x8a80699df567a112, 0x655fd65552a2f942, 0xb7c193664af25d97,
    0x79be3672469f0d1f, 0xea4bddff23a357c0, 0x26c31eaa90f1e673, 0x7e36da17516ddec5,
    0xbf7a331abfc794cc, 0x5bd8edf47cd44b8f, 0xb79065f325e2f8e3, 0x868b3c2064f33513,
    0x48e2b256de8826f6, 0xb31173db1b4594d7, 0xb7cbd78f1aa185dc, 0xb68d59fd40c7f4d5,
    0x18c1cc8a1f83e1f1, 0xdb4f409874f21c0c, 0x4ded2fb3003977e9, 0x5496d178ea8f5410,
    0xf64656955b644b71, 0xa2d434111bd5d804, 0x049575fbb602b766, 0x12a0bbf454a7f138,
    0xd70ca911380bef5e, 0x6db5e2d155786b38, 0x0110da17bca72abc, 0x9539eff3309f84a5,
    0x4ced31e049064720, 0xc7ea1fd4e839def8, 0x53f0550b6234af84, 0x52d4768dc8b46e78,
    0x73075628c48e746b, 0x4224525635f8b9db, 0x8e466af25e98fcb4, 0xef85241610e34059,
    0x03b7b4c7856f4775, 0xbd02a87d7ceca51b, 0x2a8e48de344d2f36, 0x6007e2c39135808a,
    0x28c83761cd52f4fa, 0xbee5258b900da6a9, 0xcaf93644e3bee2ae, 0x6c58d1f0c12b2891,
    0x09c7a9ed2e748c10, 0x461d0ae52263006b, 0xc7da6755c767e9e8, 0x7f7eac3c1f3183fa,
    0xda401ec2fd0e95f6, 0x9ea6f051b1fa2c28, 0xd4d553e3f03ef7ae, 0xdb906ed895e3e589,
    0x55d61c4fd1cd588c, 0x51b251d74bd7fc3d, 0xc870d3eaf6085c97, 0x09daa2071fbeaaed,
    0x7b4dae595a356403, 0x05aa93b038f1cdf2, 0xc2aaaae19e8af41b, 0x66dea661d871f029,
    0xa14b815888da058c, 0x78ea9e1fab89db0e, 0x8cf40eacd2172b82, 0x38fe958fe30bb2fe,
    0xd4981b1074f8af5c, 0x31c987ca0a7dbb84, 0x16ed92cabaeab284, 0xea525bd1bbaef3f8,
    0x2edd8632281f22be, 0xdf27e15a22eda555, 0x855efe755a9fb478, 0x9bb67aaf846bf085,
    0xd911c2bb922e80be, 0xa228b4ea04147ceb, 0x6e1e0697e99870db, 0xe262f42db66e6373,
    0x00ea3853514646fc, 0xaea0f8ff1daf552d, 0x0742a3d4d405e052, 0x8443828d9d88a3aa,
    0x87ff385d61999975, 0x5b6cf5c61e763015, 0x31e960f566f8f33a, 0x61667a759e170bcf,
    0xea66936effa82c5c, 0x122a3cf111b82689, 0x209098354e6670ab, 0xa7359e9379f10434,
    0xd3de6b028eeb5494, 0xccd7c0b88dd6d489, 0x428da788abf145ce, 0x4e6e30c214fafcc1,
    0xc570d1fa4a3eb546, 0x5845a2dce2219900, 0x688e0083e2f6258d, 0xed57b4c90dcdee0b,
    0x807cb130d82214dc, 0xecbbb1672fe222f6, 0xc6d31f6ac44edf17, 0x702e7fe8f0db3476,
    0x8afd5792388767e6, 0x707aa5ff46f6c05e, 0xad31d65e6a6abf1b, 0xf2c55a4061c5fbbd,
    0x1b22719739a836d2, 0xbe581699949ac647, 0x10f0182c14f24024, 0xff8cbed83a987643,
    0x8df4e18d244db72c, 0xa8dfab84d7621a37, 0x2a4d92ca4e0fc580, 0x70deb4c59f7d27d6,
    0x1bb4a86593af26ce, 0x41f8bb5d5f73d2f7, 0x35f124d936d51005, 0x380e2624c8db86bb,
    0x3aace29d8d4d195e, 0xf624c49b534b6d4d, 0x23f6b8eafe4f6e7a, 0x04749c505df04bb4,
    0xdd7864e9edffcd1e, 0xc36d9537b751d03d, 0x3863d53af8206802, 0x5f649482eba64b47,
    0x4ce49913603ce289, 0x0c63631992e6795b, 0x333ba035109d6da5, 0x794adc6f5973f734,
    0x47bb5c1426159388, 0x4604261ae22338ce, 0xb48cc363851518b6, 0xb9e5dcf91e7d12a1,
    0xc58b4633fef7cbb9, 0x9634b42c12ed4e4d, 0x8a53fca48bfb9888, 0xb257ab01c50dc5b5,
    0x84a38699f7669c24, 0x6895e1b354725c8f, 0xecf1f78c9bfe7e40, 0x4fd1756e4c5d2d35,
    0xef7de6b717f45645, 0x3df21c9ccc7ad475, 0xc34e4215c6f43f38, 0x2a12f0c3ec933b70,
    0x0998a0765a61f4ad, 0xea22e372cb363e52, 0x1a301e30eecb9d30, 0xacd405ee7a5dff7b,
    0xcd1e9ac71fa4fee5, 0xeafa4e327e6263c0, 0xa6a76bdedf1f07a5, 0x5f5ddf64bd85c33e,
    0x1a571e9ed2069ad0, 0xfb2e0b8984ee3173, 0x2b76bc2861ebdd1f, 0xdcef7da495c770f5,
    0x76e43b01c882dfc6, 0xe23f58c6419d077d, 0xcd9b9b297cde4d6b, 0x341ca32e9c798336,
    0x7ec4aed510a91cee, 0xe20a78dc1a815920, 0xf28d75df16793cfb, 0xf33eb3afc5999f3a,
    0xc10516c9b666b011, 0xf28ad949e282946f, 0xece168a67ea0d4f7, 0x438833e59fd863ef,
    0x01e2caee7341ceb9, 0x46f1a8996f71570b, 0xe4e69aa24cf3ac31, 0x53721691b81b0107,
    0x6dd045573f061a20, 0xfc085ec2979242d8, 0xff3a2669e2c6610f, 0x3eafa7a1ea65502c,
    0x08ec6d82eab223c6, 0x31b842e6a5343562, 0x60009c49d0fece71, 0x458f043b4f2318a4,
    0x1771cfae3f9d181c, 0xe03cb76b3391a6a7, 0x0190de9fc5e2e897, 0xc9d48de1c96c6779,
    0xa3a257a74f99ad80, 0xf72bd6ca43a109ad, 0xda5c6e9135d8887f, 0x9b26c81f9b132499,
    0x497a0d10257b1181, 0x55a3b50cc1532839, 0x9927390e6a2d11ef, 0x065635a58c3b83a0,
    0xb0c6c7b577d87099, 0x18c2b07be9e99e3b, 0x709e4e8a984fa786, 0xc48d07fd58ddc66f,
    0x3a6392083c88b565, 0xf29779b48ee625d2, 0xf0bb7ecda9a4b4e0, 0x4d055411dbd0bde8,
    0x6df4627ff86b5366, 0xc317434df984d94c, 0xe2f75d8af83967d7, 0xcc45aa84d6f18bfd,
    0xf2c081da38e8accd, 0xde8c9a1da67d4449, 0xf52b3334515932b7, 0x54d4343d0bf2fbb5,
    0xe1d4ec2bebda445c, 0xa2e4264e7584a66c, 0x859b53f782bc4e9e, 0x910b65dfe564fdf7,
};

/* Bits of the hash that the masks may use: 16..63.  Bit k of the gear hash
 * depends on the last k+1 bytes only, so leaving the low bits out makes
 * every tested bit depend on at least 17 bytes, and spreading the bits out
 * (instead of taking a contiguous run) mixes windows of many lengths. */
#define MASK_LOW_BIT 16
#define MASK_SPAN (64 - MASK_LOW_BIT)

/* nbits set bits, evenly spread from bit 63 downwards over MASK_SPAN bits:
 * bit 63 - floor(i * MASK_SPAN / nbits) for i = 0 .. nbits-1. */
static uint64_t cdc_spread_mask(unsigned nbits)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < nbits; i++)
        m |= UINT64_C(1) << (63 - (i * MASK_SPAN) / nbits);
    return m;
}

int cdc_params_init(struct cdc_params *p, uint32_t min, uint32_t avg, uint32_t max)
{
    if (min < CDC_MIN_LIMIT || !(min < avg) || !(avg < max) || max > CDC_MAX_LIMIT)
        return -EINVAL;
    if (avg & (avg - 1))
        return -EINVAL;
    unsigned bits = 0;
    while ((UINT32_C(1) << bits) < avg)
        bits++;
    /* avg > min >= 64, so bits >= 7 and bits - 2 >= 5; bits + 2 <= 30 < 48. */
    p->min_size = min;
    p->avg_size = avg;
    p->max_size = max;
    p->mask_s = cdc_spread_mask(bits + 2);
    p->mask_l = cdc_spread_mask(bits - 2);
    return 0;
}

void cdc_params_default(struct cdc_params *p)
{
    int rc = cdc_params_init(p, CDC_MIN, CDC_AVG, CDC_MAX);
    (void)rc; /* the defaults are valid */
}

/*
 * The cut search.  from: the caller already knows there is no cut at any
 * length <= from (a previous call returned 0 for those bytes), so checking
 * starts at length max(min_size, from + 1).  Because the hash only depends
 * on the last 64 bytes, restarting it 64 bytes before the first checked
 * byte gives exactly the value a scan from the chunk start would have had:
 * resuming costs 63 extra hash steps, never a rescan.
 */
static size_t cdc_scan(const struct cdc_params *p, const uint8_t *d, size_t len, int eof,
                       size_t from)
{
    const size_t max = p->max_size;
    const size_t n = len < max ? len : max;
    size_t first = from + 1 > p->min_size ? from + 1 : p->min_size; /* first L checked */

    if (first <= n) {
        const uint64_t *g = cdc_gear;
        const uint64_t ms = p->mask_s, ml = p->mask_l;
        uint64_t h = 0;
        size_t i = first - 64; /* first >= min_size >= 64 */
        for (; i < first - 1; i++)
            h = (h << 1) + g[d[i]];
        /* From here on, hashing d[i] makes a chunk of length L = i + 1. */
        size_t end_s = n < p->avg_size ? n : p->avg_size;
        /* Unrolled by two: the same checks in the same order, fewer
         * loop-carried branches. */
        for (; i + 1 < end_s; i += 2) {
            h = (h << 1) + g[d[i]];
            if (!(h & ms))
                return i + 1;
            h = (h << 1) + g[d[i + 1]];
            if (!(h & ms))
                return i + 2;
        }
        for (; i < end_s; i++) {
            h = (h << 1) + g[d[i]];
            if (!(h & ms))
                return i + 1;
        }
        for (; i + 1 < n; i += 2) {
            h = (h << 1) + g[d[i]];
            if (!(h & ml))
                return i + 1;
            h = (h << 1) + g[d[i + 1]];
            if (!(h & ml))
                return i + 2;
        }
        for (; i < n; i++) {
            h = (h << 1) + g[d[i]];
            if (!(h & ml))
                return i + 1;
        }
    }
    if (n == max)
        return max;
    return eof ? len : 0;
}

size_t cdc_next_cut(const struct cdc_params *p, const uint8_t *data, size_t len, int eof)
{
    return cdc_scan(p, data, len, eof, 0);
}

void cdc_stream_init(struct cdc_stream *s, const struct cdc_params *params)
{
    s->params = *params;
    s->buf = NULL;
    s->len = 0;
    s->kept = 0;
    s->err = 0;
}

void cdc_stream_release(struct cdc_stream *s)
{
    if (s->buf)
        munmap(s->buf, s->params.max_size);
    if (s->kept)
        __atomic_sub_fetch(&cdc_kept_total, s->kept, __ATOMIC_RELAXED);
    s->buf = NULL;
    s->kept = 0;
    s->len = 0;
}

/* The buffer is its own mapping so that its pages can go back to the
 * kernel after each chunk that passed through it: an upload then holds
 * only the partial chunk it is cutting (about 1 MiB on average), not the
 * 4 MiB high-water mark, and many concurrent uploads stay cheap. */
static int cdc_stream_map(struct cdc_stream *s)
{
    void *p = mmap(NULL, s->params.max_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    s->buf = p;
    return 0;
}

/* A chunk of used bytes has left the buffer: keep its pages resident if
 * the budget allows, else give back all this stream kept. */
static void cdc_stream_drop_pages(struct cdc_stream *s, size_t used)
{
    if (used <= s->kept)
        return;
    size_t more = used - s->kept;
    if (__atomic_add_fetch(&cdc_kept_total, more, __ATOMIC_RELAXED) <= CDC_KEEP_BUDGET) {
        s->kept = used;
        return;
    }
    __atomic_sub_fetch(&cdc_kept_total, more + s->kept, __ATOMIC_RELAXED);
    s->kept = 0;
    madvise(s->buf, used, MADV_DONTNEED);
}

/* Bytes copied into the buffer per scan step when a chunk is already
 * started there.  Bounds the bytes copied in vain when the cut turns up
 * early in a large piece (those are handed back, see below). */
#define CDC_STREAM_STEP (64u * 1024)

static int cdc_stream_fail(struct cdc_stream *s, int rc)
{
    s->err = rc;
    return rc;
}

/*
 * Invariant between calls: buf[0..len) is the start of the next chunk and
 * holds no cut point (len < max_size).  So when bytes are appended and a
 * cut turns up, it lies in the appended bytes, and whatever follows it was
 * copied from the caller's piece: instead of moving it to the front of the
 * buffer, the piece pointer steps back over it and cutting goes on straight
 * from the caller's memory.  Bytes are copied only while a chunk straddles
 * two pieces, and nothing is ever rescanned (the scan resumes at len).
 */
int cdc_stream_feed(struct cdc_stream *s, const uint8_t *p, size_t n,
                    int (*emit)(void *arg, const uint8_t *chunk, size_t len), void *arg)
{
    const struct cdc_params *params = &s->params;
    const size_t max = params->max_size;
    int rc;

    if (s->err)
        return s->err;
    while (n > 0) {
        if (s->len == 0) {
            /* Nothing buffered: cut straight from the caller's bytes. */
            size_t c;
            while ((c = cdc_scan(params, p, n, 0, 0)) != 0) {
                if ((rc = emit(arg, p, c)) != 0)
                    return cdc_stream_fail(s, rc);
                p += c;
                n -= c;
            }
            if (n == 0)
                break;
            /* n < max bytes with no cut: they start the next chunk. */
            if (!s->buf && cdc_stream_map(s) != 0)
                return cdc_stream_fail(s, -ENOMEM);
            memcpy(s->buf, p, n);
            s->len = n;
            break;
        }
        /* A chunk is started in the buffer: extend it step by step. */
        size_t old = s->len;
        size_t take = max - old;
        if (take > n)
            take = n;
        if (take > CDC_STREAM_STEP)
            take = CDC_STREAM_STEP;
        memcpy(s->buf + old, p, take);
        s->len += take;
        p += take;
        n -= take;
        size_t c = cdc_scan(params, s->buf, s->len, 0, old);
        if (c == 0)
            continue;
        if ((rc = emit(arg, s->buf, c)) != 0)
            return cdc_stream_fail(s, rc);
        /* c > old: the s->len - c bytes after the cut came from p. */
        p -= s->len - c;
        n += s->len - c;
        cdc_stream_drop_pages(s, s->len);
        s->len = 0;
    }
    return 0;
}

int cdc_stream_finish(struct cdc_stream *s,
                      int (*emit)(void *arg, const uint8_t *chunk, size_t len), void *arg)
{
    int rc;

    if (s->err)
        return s->err;
    if (s->len > 0) {
        /* No cut in the buffered bytes (the invariant): they are the last
         * chunk, which cdc_next_cut(..., eof=1) would also return. */
        if ((rc = emit(arg, s->buf, s->len)) != 0)
            return cdc_stream_fail(s, rc);
        cdc_stream_drop_pages(s, s->len);
        s->len = 0;
    }
    return 0;
}
