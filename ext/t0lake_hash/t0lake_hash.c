/*
 * t0lake_hash: the canonical column digests of docs/hashing.md as C aggregates.
 *
 * sql/core/00_hashing.sql computes the same digests with plain string_agg aggregates: two or
 * three aggregate transitions per row and column (validity, lengths, values), each with a
 * small bytea allocated per row, and a window over the whole row to find repeated keys. On a
 * 28-column table that is most of the CPU of an export's SQL proof. t0_column_digests takes
 * every column of a row in one transition and appends each value's canonical bytes straight
 * into its column's streams; t0_adjacent_duplicates compares each key with the previous
 * row's. Postgres pays about a third.
 *
 * Each stream is hashed as it grows: its bytes go into a small fixed buffer (hot in the
 * cache) that is fed to SHA-256 whenever it fills, instead of a buffer of the whole day
 * grown by doubling and hashed at the end (a perf profile of that showed over a quarter
 * of the aggregate's time in memmove, buffer growth and page faults). SHA-256 is OpenSSL's
 * (libcrypto, the one Postgres itself links): its context is a plain struct, so it lives in
 * the aggregate's state with no resource to release, and the final function finishes a copy,
 * leaving the state as it found it.
 *
 * An accelerator, not a second definition: the bytes are the spec's, and the tests hold
 * both paths to the same digests and refusals (hypothesis, golden vectors,
 * tests/test_native_hash.py). audit.t0_column_hashes uses these aggregates when the
 * extension is installed, unless the session sets t0lake.hash_impl = 'sql'.
 */
#include "postgres.h"

#include <math.h>

#include <openssl/sha.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_MODULE_MAGIC;

/* How a value is encoded: fixed width of 1, 2, 4 or 8 big-endian bytes, or variable. */
typedef enum Kind
{
	KIND_BOOL,
	KIND_INT2,
	KIND_INT4,					/* int4, date (days since 2000-01-01, as date_send) */
	KIND_INT8,					/* int8, timestamp, timestamptz (µs since 2000-01-01) */
	KIND_FLOAT4,
	KIND_FLOAT8,
	KIND_TEXT,					/* text, varchar: the UTF-8 bytes (the database is UTF8) */
	KIND_BYTEA,
	KIND_NUMERIC,				/* trim_scale(x)::text */
	KIND_JSONB					/* x::text */
} Kind;

/* 4 KiB per stream: 28 columns of three streams stay within a core's L2 cache */
#define STREAM_BUFFER 4096

/* One stream of docs/hashing.md, hashed as it grows: sha covers every byte before buf. */
typedef struct Stream
{
	SHA256_CTX	sha;
	int			len;
	unsigned char buf[STREAM_BUFFER];
} Stream;

typedef struct ColumnStreams
{
	Kind		kind;
	Stream		validity;		/* one byte per row: 0x01 value, 0x00 NULL */
	Stream		lengths;		/* variable width: big-endian int32 per value */
	Stream		values;
} ColumnStreams;

typedef struct DigestState
{
	int			ncolumns;
	ColumnStreams columns[FLEXIBLE_ARRAY_MEMBER];
} DigestState;

static Kind
kind_of(Oid type)
{
	switch (getBaseType(type))
	{
		case BOOLOID:
			return KIND_BOOL;
		case INT2OID:
			return KIND_INT2;
		case INT4OID:
		case DATEOID:
			return KIND_INT4;
		case INT8OID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return KIND_INT8;
		case FLOAT4OID:
			return KIND_FLOAT4;
		case FLOAT8OID:
			return KIND_FLOAT8;
		case TEXTOID:
		case VARCHAROID:
			return KIND_TEXT;
		case BYTEAOID:
			return KIND_BYTEA;
		case NUMERICOID:
			return KIND_NUMERIC;
		case JSONBOID:
			return KIND_JSONB;
		default:
			ereport(ERROR,
					(errcode(MAKE_SQLSTATE('T', '0', 'L', '0', '4')),
					 errmsg("t0lake: no canonical hash encoding for type %s",
							format_type_be(type))));
	}
	pg_unreachable();
}

static bool
is_variable(Kind kind)
{
	return kind >= KIND_TEXT;
}

static void
stream_init(Stream *stream)
{
	SHA256_Init(&stream->sha);
	stream->len = 0;
}

static inline void
stream_append(Stream *stream, const void *data, size_t len)
{
	if (stream->len + len > STREAM_BUFFER)
	{
		SHA256_Update(&stream->sha, stream->buf, stream->len);
		stream->len = 0;
		if (len >= STREAM_BUFFER)
		{
			SHA256_Update(&stream->sha, data, len);
			return;
		}
	}
	memcpy(stream->buf + stream->len, data, len);
	stream->len += (int) len;
}

static inline void
stream_byte(Stream *stream, unsigned char byte)
{
	if (stream->len == STREAM_BUFFER)
	{
		SHA256_Update(&stream->sha, stream->buf, stream->len);
		stream->len = 0;
	}
	stream->buf[stream->len++] = byte;
}

/* H(stream): a copy of the context finishes, so the stream itself is left untouched */
static void
stream_digest(const Stream *stream, unsigned char *out)
{
	SHA256_CTX	sha = stream->sha;

	SHA256_Update(&sha, stream->buf, stream->len);
	SHA256_Final(out, &sha);
}

static void
append_variable(ColumnStreams *state, const char *data, int len)
{
	uint32		be = pg_hton32((uint32) len);

	stream_append(&state->lengths, &be, sizeof(be));
	stream_append(&state->values, data, len);
}

static void
append_value(ColumnStreams *state, Datum value)
{
	switch (state->kind)
	{
		case KIND_BOOL:
			stream_byte(&state->values, DatumGetBool(value) ? 1 : 0);
			break;
		case KIND_INT2:
			{
				uint16		be = pg_hton16((uint16) DatumGetInt16(value));

				stream_append(&state->values, &be, sizeof(be));
				break;
			}
		case KIND_INT4:
			{
				uint32		be = pg_hton32((uint32) DatumGetInt32(value));

				stream_append(&state->values, &be, sizeof(be));
				break;
			}
		case KIND_INT8:
			{
				uint64		be = pg_hton64((uint64) DatumGetInt64(value));

				stream_append(&state->values, &be, sizeof(be));
				break;
			}
		case KIND_FLOAT4:
			{
				float4		f = DatumGetFloat4(value);
				uint32		bits;

				/* every NaN as the one canonical quiet NaN; all other bits kept */
				if (isnan(f))
					bits = (uint32) 0x7fc00000;
				else
					memcpy(&bits, &f, sizeof(bits));
				bits = pg_hton32(bits);
				stream_append(&state->values, &bits, sizeof(bits));
				break;
			}
		case KIND_FLOAT8:
			{
				float8		f = DatumGetFloat8(value);
				uint64		bits;

				if (isnan(f))
					bits = UINT64CONST(0x7ff8000000000000);
				else
					memcpy(&bits, &f, sizeof(bits));
				bits = pg_hton64(bits);
				stream_append(&state->values, &bits, sizeof(bits));
				break;
			}
		case KIND_TEXT:
		case KIND_BYTEA:
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

				append_variable(state, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
				break;
			}
		case KIND_NUMERIC:
			{
				char	   *text = DatumGetCString(DirectFunctionCall1(
								numeric_out, DirectFunctionCall1(numeric_trim_scale, value)));

				append_variable(state, text, strlen(text));
				break;
			}
		case KIND_JSONB:
			{
				char	   *text = DatumGetCString(DirectFunctionCall1(jsonb_out, value));

				append_variable(state, text, strlen(text));
				break;
			}
	}
}

PG_FUNCTION_INFO_V1(t0_column_digests_step);

/* Transition: one row, its columns as arguments, rows arriving in canonical order. */
Datum
t0_column_digests_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	DigestState *state;
	int			ncolumns = PG_NARGS() - 1;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "t0_column_digests_step called outside an aggregate");

	if (PG_ARGISNULL(0))
	{
		MemoryContext old = MemoryContextSwitchTo(aggcontext);

		state = palloc(offsetof(DigestState, columns) + sizeof(ColumnStreams) * ncolumns);
		state->ncolumns = ncolumns;
		for (int i = 0; i < ncolumns; i++)
		{
			ColumnStreams *column = &state->columns[i];

			column->kind = kind_of(get_fn_expr_argtype(fcinfo->flinfo, i + 1));
			stream_init(&column->validity);
			stream_init(&column->lengths);
			stream_init(&column->values);
		}
		MemoryContextSwitchTo(old);
	}
	else
		state = (DigestState *) PG_GETARG_POINTER(0);

	for (int i = 0; i < ncolumns; i++)
	{
		ColumnStreams *column = &state->columns[i];

		if (PG_ARGISNULL(i + 1))
			stream_byte(&column->validity, 0);
		else
		{
			stream_byte(&column->validity, 1);
			append_value(column, PG_GETARG_DATUM(i + 1));
		}
	}
	PG_RETURN_POINTER(state);
}

/*
 * D = H(H(validity) || H(values)) for fixed width,
 * D = H(H(validity) || H(lengths) || H(bytes)) for variable width;
 * column NULL: no rows, every stream empty.
 */
static bytea *
column_digest(Kind kind, const ColumnStreams *column)
{
	unsigned char parts[3 * SHA256_DIGEST_LENGTH];
	int			n = is_variable(kind) ? 3 : 2;
	bytea	   *digest = palloc(VARHDRSZ + SHA256_DIGEST_LENGTH);

	if (column == NULL)
	{
		/* no rows: H of the empty stream, n times */
		for (int i = 0; i < n; i++)
			SHA256((const unsigned char *) "", 0, parts + SHA256_DIGEST_LENGTH * i);
	}
	else
	{
		stream_digest(&column->validity, parts);
		if (is_variable(kind))
			stream_digest(&column->lengths, parts + SHA256_DIGEST_LENGTH);
		stream_digest(&column->values, parts + SHA256_DIGEST_LENGTH * (n - 1));
	}
	SHA256(parts, (size_t) SHA256_DIGEST_LENGTH * n, (unsigned char *) VARDATA(digest));
	SET_VARSIZE(digest, VARHDRSZ + SHA256_DIGEST_LENGTH);
	return digest;
}

PG_FUNCTION_INFO_V1(t0_column_digests_final);

/*
 * Final: the digest of each argument column, in argument order, as bytea[]. The state is
 * only read, so Postgres may call this more than once.
 */
Datum
t0_column_digests_final(PG_FUNCTION_ARGS)
{
	DigestState *state = PG_ARGISNULL(0) ? NULL : (DigestState *) PG_GETARG_POINTER(0);
	int			ncolumns = PG_NARGS() - 1;
	Datum	   *digests = palloc(sizeof(Datum) * ncolumns);

	for (int i = 0; i < ncolumns; i++)
	{
		Kind		kind = state ? state->columns[i].kind
			: kind_of(get_fn_expr_argtype(fcinfo->flinfo, i + 1));

		digests[i] = PointerGetDatum(column_digest(kind, state ? &state->columns[i] : NULL));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(digests, ncolumns, BYTEAOID, -1, false, TYPALIGN_INT));
}

/*
 * audit.t0_adjacent_duplicates(k1, k2, ...): over rows sorted by the key, whether two
 * adjacent rows have equal keys (each part equal by its type's "=", the C collation for
 * text, or both NULL): the key is not unique. It replaces a window over the whole row
 * (row_number and lag), which copies every row into a tuple store just to look one back.
 */
typedef struct KeyState
{
	int			nkeys;
	bool		have_previous;
	bool		duplicate;
	FmgrInfo   *equal;
	Oid		   *collation;
	int16	   *typlen;
	bool	   *typbyval;
	Datum	   *previous;
	bool	   *previous_null;
} KeyState;

static KeyState *
key_state(FunctionCallInfo fcinfo, MemoryContext aggcontext)
{
	MemoryContext old = MemoryContextSwitchTo(aggcontext);
	int			nkeys = PG_NARGS() - 1;
	KeyState   *state = palloc0(sizeof(KeyState));

	state->nkeys = nkeys;
	state->equal = palloc0(sizeof(FmgrInfo) * nkeys);
	state->collation = palloc0(sizeof(Oid) * nkeys);
	state->typlen = palloc0(sizeof(int16) * nkeys);
	state->typbyval = palloc0(sizeof(bool) * nkeys);
	state->previous = palloc0(sizeof(Datum) * nkeys);
	state->previous_null = palloc0(sizeof(bool) * nkeys);
	for (int i = 0; i < nkeys; i++)
	{
		Oid			type = get_fn_expr_argtype(fcinfo->flinfo, i + 1);
		TypeCacheEntry *entry = lookup_type_cache(type, TYPECACHE_EQ_OPR_FINFO);

		if (!OidIsValid(entry->eq_opr_finfo.fn_oid))
			ereport(ERROR,
					(errcode(MAKE_SQLSTATE('T', '0', 'L', '0', '4')),
					 errmsg("t0lake: key type %s has no equality", format_type_be(type))));
		fmgr_info_copy(&state->equal[i], &entry->eq_opr_finfo, aggcontext);
		state->collation[i] = OidIsValid(entry->typcollation) ? C_COLLATION_OID : InvalidOid;
		get_typlenbyval(type, &state->typlen[i], &state->typbyval[i]);
	}
	MemoryContextSwitchTo(old);
	return state;
}

static Datum
datumCopyInContext(MemoryContext context, Datum value, bool typbyval, int typlen)
{
	MemoryContext old = MemoryContextSwitchTo(context);
	Datum		copy = datumCopy(value, typbyval, typlen);

	MemoryContextSwitchTo(old);
	return copy;
}

PG_FUNCTION_INFO_V1(t0_adjacent_duplicates_step);

Datum
t0_adjacent_duplicates_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	KeyState   *state;
	bool		same;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "t0_adjacent_duplicates_step called outside an aggregate");
	state = PG_ARGISNULL(0) ? key_state(fcinfo, aggcontext) : (KeyState *) PG_GETARG_POINTER(0);
	if (state->duplicate)
		PG_RETURN_POINTER(state);

	same = state->have_previous;
	for (int i = 0; same && i < state->nkeys; i++)
	{
		bool		null = PG_ARGISNULL(i + 1);

		if (null != state->previous_null[i])
			same = false;
		else if (!null)
			same = DatumGetBool(FunctionCall2Coll(&state->equal[i], state->collation[i],
												  state->previous[i], PG_GETARG_DATUM(i + 1)));
	}
	if (same)
	{
		state->duplicate = true;
		PG_RETURN_POINTER(state);
	}

	for (int i = 0; i < state->nkeys; i++)
	{
		if (state->have_previous && !state->typbyval[i] && !state->previous_null[i])
			pfree(DatumGetPointer(state->previous[i]));
		state->previous_null[i] = PG_ARGISNULL(i + 1);
		state->previous[i] = state->previous_null[i] ? (Datum) 0
			: datumCopyInContext(aggcontext, PG_GETARG_DATUM(i + 1),
								 state->typbyval[i], state->typlen[i]);
	}
	state->have_previous = true;
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(t0_adjacent_duplicates_final);

Datum
t0_adjacent_duplicates_final(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!PG_ARGISNULL(0) && ((KeyState *) PG_GETARG_POINTER(0))->duplicate);
}
