/* home: where etc/ and spool/ live.  -d DIR, else $BBSMAIL_HOME, else the
 * compiled-in default (the checkout for the embedded default, PREFIX's home
 * after make install). */
#ifndef BBSMAIL_HOME_H
#define BBSMAIL_HOME_H
#include <stddef.h>

void home_set(const char *dir);
const char *home_dir(void);
/* Writes "<home>/<relative>" into out.  1 ok, 0 with ENAMETOOLONG. */
int home_path(char *out, size_t size, const char *relative);
/* The same, dying (temporary) on truncation. */
void xhome_path(char *out, size_t size, const char *relative);

#endif
