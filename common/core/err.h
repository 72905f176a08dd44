/* One error enum for the whole program, and its mapping to HTTP statuses. */
#ifndef CALLHOOK_ERR_H
#define CALLHOOK_ERR_H

#define MUSTCHECK __attribute__((warn_unused_result))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

enum ch_err {
	CH_OK = 0,
	CH_ERR_NOMEM,        /* out of memory */
	CH_ERR_NOT_FOUND,    /* unknown source or path */
	CH_ERR_METHOD,       /* method not allowed for the vendor */
	CH_ERR_TOO_LARGE,    /* body over max_body */
	CH_ERR_MEDIA_TYPE,   /* unsupported content type */
	CH_ERR_UNAUTHORIZED, /* bad or missing credentials */
	CH_ERR_BAD_REQUEST,  /* malformed request before the body is decoded */
	CH_ERR_BAD_BODY,     /* malformed body or wrong types: delivery kept as rejected */
	CH_ERR_DB,           /* database error other than unreachable */
	CH_ERR_DB_DOWN,      /* database unreachable */
	CH_ERR_UNAVAILABLE,  /* database down and spool unusable */
	CH_ERR_CONFIG,       /* invalid configuration */
	CH_ERR_SYSTEM,       /* a system call failed */
};

const char *ch_strerror(enum ch_err err);
int ch_err_http_status(enum ch_err err);

#endif
