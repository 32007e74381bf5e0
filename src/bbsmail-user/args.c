#include "args.h"
#include <stddef.h>
#include <string.h>

struct option_spec {
	const char *name;
	enum user_option bit;
	size_t value_offset;  /* where the value goes; 0 for a flag without value */
};

#define VALUE(field) offsetof(struct user_args, field)

static const struct option_spec options[] = {
	{ "--alias", OPT_ALIAS, VALUE(alias) },
	{ "--password", OPT_PASSWORD, VALUE(password) },
	{ "--password-stdin", OPT_PASSWORD_STDIN, 0 },
	{ "--number", OPT_NUMBER, VALUE(number) },
	{ "--forward", OPT_FORWARD, VALUE(forward) },
	{ "--flags", OPT_FLAGS, VALUE(flags) },
	{ "--no-cram", OPT_NO_CRAM, 0 },
	{ "--name", OPT_NAME, VALUE(new_name) },
	{ "--secret", OPT_SECRET, VALUE(secret) },
	{ "--secret-stdin", OPT_SECRET_STDIN, 0 },
	{ "--clear", OPT_CLEAR, 0 },
};

static const struct option_spec *option_find(const char *word)
{
	size_t i;

	for (i = 0; i < sizeof options / sizeof options[0]; i++)
		if (strcmp(word, options[i].name) == 0)
			return &options[i];
	return NULL;
}

int args_parse(struct user_args *a, char **argv, unsigned allowed, int operands)
{
	const struct option_spec *o;
	int seen_operands = 0;

	memset(a, 0, sizeof *a);
	for (; *argv; argv++) {
		if ((*argv)[0] != '-' || (*argv)[1] != '-') {
			if (seen_operands++)
				return 0;
			a->target = *argv;
			continue;
		}
		o = option_find(*argv);
		if (!o || !(allowed & o->bit) || (a->given & o->bit))
			return 0;
		a->given |= o->bit;
		if (o->value_offset) {
			if (!argv[1])
				return 0;
			*(const char **)((char *)a + o->value_offset) = *++argv;
		}
	}
	return seen_operands == operands;
}
