#!/usr/bin/env perl
# Doxygen input filter for the Markdown pages (docs/CMakeLists.txt): GitHub writes math as $...$
# and $$...$$, Doxygen as \f$...\f$ and \f[...\f]; this rewrites the one into the other, outside
# code, so a page reads right on GitHub and in the API reference alike. Lines are kept one for one.
use strict;
use warnings;

my $fence = 0;
while (my $line = <>) {
  if ($line =~ /^\s*(```|~~~)/) { $fence = !$fence; print $line; next; }
  if ($fence) { print $line; next; }
  # Split off `code spans`; only the text between them is rewritten.
  my @parts = split /(`[^`]*`)/, $line;
  for my $p (@parts) {
    next if $p =~ /^`/;
    $p =~ s/\$\$(.+?)\$\$/\\f[$1\\f]/g;
    $p =~ s/(?<![\\\w])\$([^\$\s](?:[^\$]*?[^\$\s])?)\$(?!\w)/\\f\$$1\\f\$/g;
  }
  print join('', @parts);
}
