// The calendar screen's script (progressive enhancement: the page works without it).
'use strict';
